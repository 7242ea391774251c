"""agent.tokens.registry: token specs and listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.tokens.registry import list_tokens, open_token, parse_spec
from agent.tokens.soft import SoftToken
from formats.errors import SealBridgeError


def test_parse_spec():
    assert parse_spec("soft:/a/b.soft") == ("soft", "/a/b.soft", None)
    assert parse_spec("pkcs11:My Token") == ("pkcs11", "My Token", None)
    assert parse_spec("pkcs11:My Token/0A1b") == ("pkcs11", "My Token", "0a1b")
    for bad in ("nothing", "usb:x", "soft:", "pkcs11:label/xyz", "pkcs11:label/abc", "pkcs11:/01"):
        with pytest.raises(SealBridgeError) as exc:
            parse_spec(bad)
        assert exc.value.code == "BAD_REQUEST", bad


def test_open_soft_token(dev_pki):
    token = open_token(f"soft:{dev_pki.tokens['ecdsa']}")
    assert isinstance(token, SoftToken)
    assert token.info().keys[0].algorithm == "ecdsa"
    with pytest.raises(SealBridgeError) as exc:
        open_token("smartcard:x")
    assert exc.value.code == "BAD_REQUEST"


def test_open_missing_soft_token(tmp_path: Path):
    with pytest.raises(SealBridgeError) as exc:
        open_token(f"soft:{tmp_path / 'none.soft'}")
    assert exc.value.code == "TOKEN_NOT_FOUND"


def test_list_soft_tokens(dev_pki):
    tokens = list_tokens(soft_paths=[dev_pki.tokens["sm2"], dev_pki.tokens["rsa"]])
    soft = [t for t in tokens if isinstance(t, SoftToken)]
    assert [t.info().keys[0].algorithm for t in soft] == ["sm2", "rsa"]
