"""Config loading: $SEALBRIDGE_HOME layout, TOML/JSON files, overrides, and refusal of unsafe settings."""

from __future__ import annotations

import json

import pytest

from agent.config import DEFAULT_PORT, load_config
from agent.known_extensions import CHROMIUM_EXTENSION_ORIGIN
from agent.pairing import pairing_code, parse_pairing_code
from formats.errors import SealBridgeError
from tests.support.agent_env import EXT


def test_home_layout_and_defaults(tmp_path):
    cfg = load_config(env={"SEALBRIDGE_HOME": str(tmp_path)})
    assert cfg.port == DEFAULT_PORT
    assert cfg.data_dir == tmp_path / "data" and cfg.runtime_dir == tmp_path / "run"
    assert cfg.audit_db == tmp_path / "data" / "audit.sqlite3"
    assert cfg.allowed_origins == [CHROMIUM_EXTENSION_ORIGIN]
    assert cfg.bind == ("127.0.0.1", "::1")
    assert cfg.limits.max_document_bytes == 200 * 1024 * 1024 and cfg.require_platform


def test_toml_file_and_overrides(tmp_path):
    (tmp_path / "config.toml").write_text(
        'port = 18611\nplatform_url = "https://seal.example.gov.cn"\nsoft_tokens = ["t.soft"]\n'
        '[site_policy]\n"https://oa.example.cn" = "allowed"\n[limits]\nmax_document_bytes = 1048576\n'
    )
    cfg = load_config(env={"SEALBRIDGE_HOME": str(tmp_path)}, port=18612, allow_origins=[EXT])
    assert cfg.port == 18612 and cfg.platform_url == "https://seal.example.gov.cn"
    assert EXT in cfg.allowed_origins and CHROMIUM_EXTENSION_ORIGIN in cfg.allowed_origins
    assert cfg.site_policy == {"https://oa.example.cn": "allowed"}
    assert cfg.limits.max_document_bytes == 1048576


def test_json_file(tmp_path):
    path = tmp_path / "agent.json"
    path.write_text(json.dumps({"port": 18620, "default_site_policy": "denied"}))
    cfg = load_config(path, env={})
    assert cfg.port == 18620 and cfg.default_site_policy == "denied"


@pytest.mark.parametrize(
    "text",
    [
        'bind = ["0.0.0.0"]',
        'bind = ["127.0.0.1", "192.168.1.10"]',
        'allowed_origins = ["https://evil.example"]',
        'allowed_origins = ["chrome-extension://abc"]',
        "port = 70000",
        'default_site_policy = "always"',
        "typo_key = 1",
        "[limits]\nmax_document_bytes = -1",
        "[limits]\nno_such_limit = 5",
        'platform_url = "ftp://x"',
        "port = ",
    ],
)
def test_unsafe_or_wrong_settings_are_refused(tmp_path, text):
    (tmp_path / "config.toml").write_text(text + "\n")
    with pytest.raises(SealBridgeError) as exc:
        load_config(env={"SEALBRIDGE_HOME": str(tmp_path)})
    assert exc.value.code == "BAD_REQUEST"


def test_bad_allow_origin_flag_is_refused(tmp_path):
    with pytest.raises(SealBridgeError):
        load_config(env={"SEALBRIDGE_HOME": str(tmp_path)}, allow_origins=["https://portal.example.cn"])


def test_pairing_code_round_trip(tmp_path):
    cfg = load_config(env={"SEALBRIDGE_HOME": str(tmp_path)})
    secret = bytes(range(32))
    code = pairing_code(cfg, secret)
    assert code.startswith("SBP1-18600-")
    assert parse_pairing_code(code.lower()) == (18600, secret)
    for bad in ("SBP2-1-AAAA", "SBP1-x-AAAA", "SBP1-18600-AAAA", "hello"):
        with pytest.raises(SealBridgeError):
            parse_pairing_code(bad)
