"""Seal store: seals from token data objects and from the platform (cached), and `sealbridge seals list`."""

from __future__ import annotations

import json
import os

import pytest

from agent.seal_store import SealStore, cert_sha256
from agent.server.protocol import validate_def
from agent.tokens import pkcs11 as driver
from formats.errors import SealBridgeError
from formats.ses import describe_type
from sealbridge.cli import main as cli_main
from tests.support.softhsm import KEY_IDS, der_of


@pytest.fixture(scope="module")
def sealed_token(softhsm):
    label = softhsm.make_token(("rsa", "ecdsa"))
    yield label
    softhsm.delete_token(label)


def test_token_seals_are_bound_to_their_certificates(softhsm, sealed_token, tmp_path):
    info = driver.Pkcs11Token(softhsm.module, sealed_token).info()
    entries = SealStore(tmp_path).seals_for_token(info, refresh=False)
    by_id = {e.seal_id: e for e in entries}
    pki = softhsm.pki
    assert set(by_id) == {pki.seal_ids["rsa"], pki.seal_ids["ecdsa"]}
    rsa = by_id[pki.seal_ids["rsa"]]
    assert rsa.source == "token" and rsa.error is None
    assert rsa.key_id == KEY_IDS["rsa"] and rsa.cert_sha256 == cert_sha256(der_of(pki.signer_certs["rsa"]))
    assert (
        describe_type(rsa.seal.type, rsa.seal.version)["kind"] == pki.seal_kinds["rsa"].lower() and rsa.name
    )
    assert rsa.holder and "rsa" in rsa.holder
    assert rsa.seal.picture.data and rsa.seal.picture.type and rsa.seal.picture.width_mm > 0
    assert rsa.valid_start < rsa.valid_end and rsa.usable_now
    assert by_id[pki.seal_ids["ecdsa"]].key_id == KEY_IDS["ecdsa"]
    d = rsa.to_info()
    validate_def("sealInfo", d)  # the one JSON shape of a seal: the protocol's
    assert d["token_id"] == f"pkcs11:{sealed_token}" and d["width_mm"] > 0 and d["esID"] == rsa.seal_id


def test_platform_seals_are_cached_and_used_offline(softhsm, sealed_token, tmp_path):
    pki = softhsm.pki
    info = driver.Pkcs11Token(softhsm.module, sealed_token).info()
    rsa_cert = der_of(pki.signer_certs["rsa"])
    calls: list[str] = []
    platform_ok = True

    def provider(digest_hex: str) -> list[bytes]:
        calls.append(digest_hex)
        if not platform_ok:
            raise SealBridgeError("PLATFORM_UNREACHABLE", "connection refused")
        # The platform issued the sm2b seal for the RSA certificate? No: it lists other certificates.
        return (
            [pki.seals["rsa"].read_bytes(), pki.seals["sm2b"].read_bytes()]
            if digest_hex == cert_sha256(rsa_cert)
            else []
        )

    store = SealStore(tmp_path, provider)
    entries = store.seals_for_token(info)
    assert set(calls) == {cert_sha256(k.certificate) for k in info.keys}
    platform = [e for e in entries if e.source == "platform"]
    # The rsa seal is also on the token (listed once); sm2b comes from the platform but does not list the cert.
    assert [e.seal_id for e in platform] == [pki.seal_ids["sm2b"]]
    assert platform[0].error.startswith("SEAL_NOT_FOR_SIGNER") and not platform[0].usable_now
    cache = tmp_path / "seals" / f"{cert_sha256(rsa_cert)}.json"
    assert cache.is_file() and not [p for p in cache.parent.iterdir() if p.name.startswith(".seals-")]
    assert len(json.loads(cache.read_text())["seals"]) == 2

    platform_ok = False  # offline: the cache answers
    again = store.seals_for_token(info)
    assert sorted(e.seal_id for e in again) == sorted(e.seal_id for e in entries)
    assert store.find(pki.seal_ids["rsa"], [info]).key_id == KEY_IDS["rsa"]
    with pytest.raises(SealBridgeError) as exc:
        store.find(pki.seal_ids["sm2b"], [info])
    assert exc.value.code == "SEAL_NOT_FOR_SIGNER"
    with pytest.raises(SealBridgeError) as exc:
        store.find("nope", [info])
    assert exc.value.code == "SEAL_NOT_FOUND"


def test_bad_seal_bytes_are_listed_with_an_error(softhsm, tmp_path):
    label = softhsm.make_token(("ecdsa",), seals=False)
    try:
        softhsm.write_seal(label, b"\x30\x03garbage", "broken")
        from tests.support.softhsm import refresh

        refresh()
        info = driver.Pkcs11Token(softhsm.module, label).info()
        (entry,) = SealStore(tmp_path).seals_for_token(info, refresh=False)
        assert entry.error and entry.error.startswith("DOC_MALFORMED") and not entry.usable_now
    finally:
        softhsm.delete_token(label)


def test_cli_seals_list_json_and_text(softhsm, sealed_token, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEALBRIDGE_HOME", str(tmp_path / "home"))
    soft = softhsm.pki.tokens["sm2"]
    rc = cli_main(["seals", "list", "--module", softhsm.module, "--soft", str(soft), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    labels = {t["label"] for t in out["tokens"]}
    assert sealed_token in labels and any(t["kind"] == "soft" for t in out["tokens"])
    mine = [s for s in out["seals"] if s["token_id"] == f"pkcs11:{sealed_token}"]
    assert {s["id"] for s in mine} == {softhsm.pki.seal_ids["rsa"], softhsm.pki.seal_ids["ecdsa"]}
    assert all(s["key_id"] and s["cert_subject"] and s["valid_to"] and s["width_mm"] for s in mine)
    assert any(s["id"] == softhsm.pki.seal_ids["sm2"] for s in out["seals"])  # the soft token's seal
    for seal in out["seals"]:
        validate_def("sealInfo", seal)

    rc = cli_main(["seals", "list", "--module", softhsm.module])
    text = capsys.readouterr().out
    assert rc == 0 and softhsm.pki.seal_ids["rsa"] in text and f"pkcs11:{sealed_token}" in text

    rc = cli_main(["seals", "list", "--module", os.fspath(tmp_path / "missing.so"), "--json"])
    err = json.loads(capsys.readouterr().out)["error"]
    assert rc == 2 and err["code"] == "TOKEN_ERROR"


def test_cli_seals_put_writes_a_full_size_seal(softhsm, tmp_path, capsys):
    label = softhsm.make_token(("ecdsa",), seals=False)
    try:
        pin_file = tmp_path / "pin"
        pin_file.write_text("123456\n")
        seal_file = softhsm.pki.seals["ecdsa"]
        args = ["seals", "put", str(seal_file), "--module", softhsm.module, "--token", label]
        rc = cli_main([*args, "--pin-file", str(pin_file), "--json"])
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and out["seal_id"] == softhsm.pki.seal_ids["ecdsa"] and out["bytes"] > 5000
        rc = cli_main([*args, "--pin-file", str(pin_file), "--json"])  # again: replaced, not duplicated
        capsys.readouterr()
        info = driver.Pkcs11Token(softhsm.module, label).info()
        assert info.seals == [seal_file.read_bytes()]
        (entry,) = SealStore(tmp_path).seals_for_token(info, refresh=False)
        assert entry.key_id == KEY_IDS["ecdsa"] and entry.error is None
        pin_file.write_text("000000\n")
        rc = cli_main([*args, "--pin-file", str(pin_file), "--json"])
        assert rc == 2 and json.loads(capsys.readouterr().out)["error"]["code"] == "PIN_INCORRECT"
        junk = tmp_path / "junk.esl"
        junk.write_bytes(b"not a seal")
        rc = cli_main(
            [
                "seals",
                "put",
                str(junk),
                "--module",
                softhsm.module,
                "--token",
                label,
                "--pin-file",
                str(pin_file),
            ]
        )
        assert rc == 2 and "DOC_MALFORMED" in capsys.readouterr().err
    finally:
        softhsm.delete_token(label)
