"""pkcs11_modules in the agent config: a path, or a table {path, sm2_profile, profiles_file} per module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import load_config, merge_modules
from agent.tokens.pkcs11 import ModuleConfig, Pkcs11Token, module_config
from formats.errors import SealBridgeError

VENDOR = {
    "profiles": [
        {"name": "acme-sm2", "vendor": "ACME", "ckk": "0x80000004", "sign_mechanism": "0x80000201",
         "z_on_token": True, "output": "raw"},
    ]
}  # fmt: skip


def _load(tmp_path: Path, toml: str):  # type: ignore[no-untyped-def]
    (tmp_path / "config.toml").write_text(toml, encoding="utf-8")
    return load_config(tmp_path / "config.toml", env={})


def test_paths_and_tables(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "acme.json").write_text(json.dumps(VENDOR))
    cfg = _load(
        tmp_path,
        'pkcs11_modules = [\n  "/usr/lib/softhsm/libsofthsm2.so",\n'
        '  { path = "/opt/sansec/libswsds.so", sm2_profile = "sansec-sm3sm2" },\n'
        '  { path = "/opt/acme/libacme.so", sm2_profile = "acme-sm2", profiles_file = "vendor/acme.json" },\n]\n',
    )
    plain, sansec, acme = cfg.pkcs11_modules
    assert plain == "/usr/lib/softhsm/libsofthsm2.so"
    assert module_config(sansec) == ModuleConfig("/opt/sansec/libswsds.so", "sansec-sm3sm2", None)
    acme_file = str((tmp_path / "vendor" / "acme.json").resolve())  # relative to the config file
    assert module_config(acme) == ModuleConfig("/opt/acme/libacme.so", "acme-sm2", acme_file)
    # the token driver gets the profile from the entry
    token = Pkcs11Token(acme, "label")
    assert token.config.sm2_profile == "acme-sm2"
    assert token._sm2_profile(None).name == "acme-sm2"
    # a module named on the command line keeps its configured profile
    merged = merge_modules(["/opt/sansec/libswsds.so", "/x/other.so"], cfg.pkcs11_modules)
    assert merged == [sansec, "/x/other.so", plain, acme]


@pytest.mark.parametrize(
    ("toml", "why"),
    [
        ('pkcs11_modules = "/usr/lib/x.so"', "must be a list"),
        ("pkcs11_modules = [42]", "must be a path or a table"),
        ('pkcs11_modules = [{ sm2_profile = "sansec-sm3sm2" }]', "needs a 'path'"),
        ('pkcs11_modules = [{ path = "/a.so", profile = "x" }]', "unknown key 'profile'"),
        ('pkcs11_modules = [{ path = "/a.so", sm2_profile = "no-such-profile" }]', "unknown SM2 profile"),
        ('pkcs11_modules = [{ path = "/a.so", profiles_file = "missing.json" }]', "cannot read SM2 profiles"),
        ('pkcs11_modules = [{ path = "/a.so", sm2_profile = "" }]', "non-empty strings"),
        ('pkcs11_modules = ["/a.so", { path = "/a.so" }]', "listed twice"),
    ],
)
def test_bad_entries_are_refused_at_load(tmp_path: Path, toml: str, why: str) -> None:
    with pytest.raises(SealBridgeError) as exc:
        _load(tmp_path, toml + "\n")
    assert exc.value.code == "BAD_REQUEST" and why in exc.value.detail, exc.value.detail
