"""`sealbridge native-host` started the way browsers start it, with the arguments they add."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.agent_env import EXT

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "sealbridge"]
FIREFOX_ORIGIN = "moz-extension://0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def _run(home: Path, args: list[str], message: dict | None) -> tuple[int, list[dict], str]:
    body = json.dumps(message).encode() if message is not None else b""
    stdin = struct.pack("=I", len(body)) + body if message is not None else b""
    env = dict(os.environ, SEALBRIDGE_HOME=str(home), PYTHONPATH=str(REPO))
    proc = subprocess.run([*CLI, *args], input=stdin, capture_output=True, env=env, cwd=REPO, timeout=60)
    out, replies = proc.stdout, []
    while len(out) >= 4:
        (n,) = struct.unpack("=I", out[:4])
        replies.append(json.loads(out[4 : 4 + n]))
        out = out[4 + n :]
    return proc.returncode, replies, proc.stderr.decode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(f'allowed_origins = ["{EXT}"]\n')
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["native-host", f"{EXT}/"],  # Chrome on Linux/macOS: the caller origin
        ["native-host", f"{EXT}/", "--parent-window=0"],  # Chrome/Edge on Windows
        ["native-host", "--parent-window=1234", f"{EXT}/"],
    ],
)
def test_chrome_arguments(home: Path, argv: list[str]) -> None:
    code, replies, err = _run(home, argv, {"type": "getPairing"})
    assert code == 0, err
    (reply,) = replies
    assert reply["type"] == "pairing" and len(reply["secret"]) == 64
    assert (home / "data" / "pairing.secret").read_text().strip() == reply["secret"]


def test_firefox_arguments_register_the_origin(home: Path) -> None:
    manifest = str(home / "cn.sealbridge.agent.json")
    code, replies, err = _run(
        home,
        ["native-host", manifest, "sealbridge@sealbridge.cn"],
        {"type": "getPairing", "origin": FIREFOX_ORIGIN},
    )
    assert code == 0, err
    assert replies[0]["type"] == "pairing"
    paired = json.loads((home / "data" / "paired-origins.json").read_text())
    assert paired["origins"] == [FIREFOX_ORIGIN]


def test_another_extension_is_refused_even_with_extra_arguments(home: Path) -> None:
    other = "chrome-extension://" + "ponmlkjihgfedcba" * 2 + "/"
    code, replies, err = _run(home, ["native-host", other, "--parent-window=0"], {"type": "getPairing"})
    assert code == 0, err
    assert replies[0]["type"] == "error" and replies[0]["error"]["code"] == "ORIGIN_NOT_ALLOWED"


def test_other_commands_still_refuse_unknown_arguments(home: Path) -> None:
    code, replies, err = _run(home, ["pair", "--parent-window=0"], None)
    assert code == 2 and "unrecognized arguments: --parent-window=0" in err
