"""Real SoftHSM2 tokens for the PKCS#11 tests (helpers; the fixtures are in conftest.py).

No __init__.py in this folder on purpose: as a package named `pkcs11` it would shadow python-pkcs11.


One SoftHSM2 token directory per test session (SOFTHSM2_CONF points at it, for this process and the tools);
each test creates its own tokens with unique labels through softhsm2-util, imports keys from the dev PKI with
`softhsm2-util --import` (PKCS#8), and writes certificates and seal data objects with OpenSC's pkcs11-tool.
SM2 keys cannot be imported (softhsm2-util: "Cannot handle this algorithm"), so they are generated on the
token (EC key on the SM2 curve, which SoftHSM2's OpenSSL accepts) in a separate process.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
MODULE = next((p for p in MODULE_CANDIDATES if os.path.exists(p)), MODULE_CANDIDATES[0])
PIN = "123456"
SO_PIN = "12345678"
KEY_IDS = {"rsa": "0a01", "ecdsa": "0a02", "sm2": "0a03"}

_labels = itertools.count(1)


def _run(cmd: list[str], **kw) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc.stdout


def der_of(path: Path) -> bytes:
    data = path.read_bytes()
    return pem.unarmor(data)[2] if pem.detect(data) else data


@dataclass
class SoftHsm:
    root: Path
    pki: object  # agent.devpki.DevPki
    created: list[str] = field(default_factory=list)

    @property
    def module(self) -> str:
        return MODULE

    def new_label(self, prefix: str = "t") -> str:
        return f"{prefix}{next(_labels)}-{os.getpid()}"

    def init_token(self, label: str, pin: str = PIN) -> None:
        _run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", pin])
        self.created.append(label)

    def delete_token(self, label: str) -> None:
        proc = subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", label], capture_output=True, text=True
        )
        if proc.returncode == 0:
            return
        # softhsm2-util removes the token's files, then rmdir()s its directory. A SoftHSM2 library that is
        # (re-)initialising at that moment (the hot-plug monitor in this process) may have just re-created its
        # token.lock there, and rmdir fails. The token is gone already; finish the tool's job.
        match = re.search(r"Could not delete the directory: (\S+)", proc.stdout + proc.stderr)
        if not match or not Path(match.group(1)).is_relative_to(self.root):
            raise RuntimeError(f"softhsm2-util --delete-token failed: {proc.stdout}{proc.stderr}")
        shutil.rmtree(match.group(1), ignore_errors=True)

    def tool(self, label: str, *args: str, pin: str = PIN) -> str:
        return _run(
            ["pkcs11-tool", "--module", MODULE, "--token-label", label, "--login", "--pin", pin, *args]
        )

    def import_key(self, label: str, kind: str, pin: str = PIN) -> None:
        """Key (PKCS#8) + certificate + its root from the dev PKI, under CKA_ID KEY_IDS[kind]."""
        key_id = KEY_IDS[kind]
        key_pem = self.pki.signer_keys[kind]
        _run(
            [
                "softhsm2-util",
                "--import",
                str(key_pem),
                "--token",
                label,
                "--label",
                kind,
                "--id",
                key_id,
                "--pin",
                pin,
            ]
        )
        self.write_cert(label, der_of(self.pki.signer_certs[kind]), key_id, kind, pin)
        self.write_cert(label, der_of(self.pki.roots[kind]), None, f"{kind}-root", pin)

    def write_cert(self, label: str, der: bytes, key_id: str | None, obj_label: str, pin: str = PIN) -> None:
        path = self.root / f"{obj_label}-{next(_labels)}.der"
        path.write_bytes(der)
        extra = ["--id", key_id] if key_id else []
        self.tool(label, "--write-object", str(path), "--type", "cert", "--label", obj_label, *extra, pin=pin)

    def write_seal(
        self, label: str, seal_der: bytes, esid: str, pin: str = PIN, private: bool = False
    ) -> None:
        """A CKO_DATA object `seal:<esID>`, written with python-pkcs11 in a child process (pkcs11-tool cuts
        objects at 5000 bytes; seals with a picture are ~100 KB)."""
        path = self.root / f"seal-{next(_labels)}.esl"
        path.write_bytes(seal_der)
        script = textwrap.dedent(
            f"""
            import pkcs11
            from pathlib import Path
            from pkcs11 import Attribute, ObjectClass
            tok = pkcs11.lib({MODULE!r}).get_token(token_label={label!r})
            with tok.open(rw=True, user_pin={pin!r}) as s:
                s.create_object({{
                    Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: {private!r},
                    Attribute.LABEL: {"seal:" + esid!r}, Attribute.APPLICATION: "SealBridge",
                    Attribute.VALUE: Path({str(path)!r}).read_bytes(),
                }})
            """
        )
        _run([sys.executable, "-c", script])

    def generate_sm2_key(self, label: str, pin: str = PIN) -> bytes:
        """C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN) on the SM2 curve, in a child process; returns the EC point."""
        script = textwrap.dedent(
            f"""
            import pkcs11, sys
            from pkcs11 import Attribute, KeyType
            from asn1crypto import core, keys
            lib = pkcs11.lib({MODULE!r})
            tok = lib.get_token(token_label={label!r})
            with tok.open(rw=True, user_pin={pin!r}) as s:
                params = s.create_domain_parameters(
                    KeyType.EC, {{Attribute.EC_PARAMS: core.ObjectIdentifier('1.2.156.10197.1.301').dump()}},
                    local=True)
                pub, priv = params.generate_keypair(store=True, label='sm2', id=bytes.fromhex({KEY_IDS["sm2"]!r}))
                point = core.OctetString.load(pub[Attribute.EC_POINT]).native
                sys.stdout.write(point.hex())
            """
        )
        return bytes.fromhex(_run([sys.executable, "-c", script]).strip())

    def make_token(
        self,
        kinds: tuple[str, ...] = ("rsa",),
        seals: bool = True,
        pin: str = PIN,
        label: str | None = None,
        reload: bool = True,
    ) -> str:
        """A token holding a key + certificate per kind (and each kind's dev-PKI seal as a data object).
        reload=False leaves this process's module as it is (the hot-plug monitor must find the token)."""
        label = label or self.new_label("-".join(kinds) + "-")
        self.init_token(label, pin)
        for kind in kinds:
            if kind == "sm2":
                self.add_sm2(label, pin)
            else:
                self.import_key(label, kind, pin)
            if seals:
                self.write_seal(label, self.pki.seals[kind].read_bytes(), self.pki.seal_ids[kind], pin)
        if reload:
            refresh()
        return label

    def add_sm2(self, label: str, pin: str = PIN) -> bytes:
        from formats.gm import SM2PublicKey
        from formats.gm.keys import load_private_key
        from formats.x509 import build_certificate

        point = self.generate_sm2_key(label, pin)
        root_key = load_private_key(self.pki.maker_key.read_bytes())
        cert = build_certificate(
            {"common_name": "SoftHSM SM2 signer", "organization_name": "SealBridge tests"},
            SM2PublicKey.from_point(point),
            der_of(self.pki.maker_cert),
            root_key,
            key_usage={"digital_signature"},
        )
        self.write_cert(label, cert, KEY_IDS["sm2"], "sm2", pin)
        return cert


def refresh() -> None:
    """Let this process's SoftHSM2 see tokens created by the tools (it reads its directory in C_Initialize)."""
    from agent.tokens.pkcs11_module import get_module

    get_module(MODULE).reinitialize()
