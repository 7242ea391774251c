"""A throw-away demo PKI for development, the demo and tests (`sealbridge dev-pki DIR`).

Layout (other tools and checks rely on it exactly):

    DIR/ca/root.pem, rsa-root.pem, ecdsa-root.pem          self-signed roots (SM2-with-SM3, RSA, ECDSA P-256)
    DIR/keys/{sm2,sm2b,ecdsa,rsa}-signer.{key,cert}.pem     signer keys (PKCS#8, unencrypted) and certificates
    DIR/keys/maker.{key,cert}.pem                           the seal maker (SM2, issued by the SM2 root)
    DIR/seals/{sm2,sm2b,ecdsa,rsa}.esl                      a V4 seal per signer, made by the maker
    DIR/tokens/{sm2,ecdsa,rsa}.soft                         soft tokens: signer key + chain + seal
    DIR/tokens/PIN                                          the soft tokens' PIN
    DIR/skf/SealBridge-SoftSKF-1/...                        a software SKF key (SOFTSKF_HOME=DIR/skf; see
                                                            docs/tokens.md): application SealBridge, container
                                                            sm2-signer with the sm2 signer key, certificate and seal

The root keys are not written: a dev PKI is regenerated, never extended. Keys are unencrypted on purpose
(dev only); every file is written atomically, key files and tokens with mode 0600.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from formats.errors import SealBridgeError
from formats.uscc import with_check_character
from stamping.fileout import atomic_write

DEV_PIN = "123456"
COMPANY = "示例科技有限公司"
COMPANY_EN = "Example Technology Co., Ltd."
SIGNER_NAMES = ("sm2", "sm2b", "ecdsa", "rsa")
TOKEN_NAMES = ("sm2", "ecdsa", "rsa")
SIGNER_ROOT = {"sm2": "sm2", "sm2b": "sm2", "ecdsa": "ecdsa", "rsa": "rsa"}  # signer -> root algorithm
ROOT_FILES = {"sm2": "root.pem", "rsa": "rsa-root.pem", "ecdsa": "ecdsa-root.pem"}
SEAL_DIAMETER_MM = 42
VALIDITY = timedelta(days=730)
#: A USCC-shaped code for the demo company (91 = enterprise, 321300 = Suqian); not a real registration.
COMPANY_USCC = with_check_character("91321300MA1DEMX01")


@dataclass(frozen=True)
class SealSpec:
    signer: str
    esid: str
    kind: str  # formats.ses.SealKind name


# One seal per signer; kinds from seed Art. 4 (法定名称章, 合同专用章, 财务专用章, 发票专用章).
SEALS = (
    SealSpec("sm2", "32130026000001", "LEGAL_NAME"),
    SealSpec("sm2b", "32130026000002", "CONTRACT"),
    SealSpec("ecdsa", "32130026000003", "FINANCE"),
    SealSpec("rsa", "32130026000004", "INVOICE"),
)


@dataclass
class DevPki:
    """Where everything of a dev PKI lives (the paths of the layout above) and the demo facts."""

    dir: Path
    roots: dict[str, Path]  # "sm2" | "rsa" | "ecdsa" -> ca/*.pem
    signer_keys: dict[str, Path]  # "sm2" | "sm2b" | "ecdsa" | "rsa" -> keys/<name>-signer.key.pem
    signer_certs: dict[str, Path]
    maker_key: Path
    maker_cert: Path
    seals: dict[str, Path]  # signer name -> seals/<name>.esl
    seal_ids: dict[str, str]  # signer name -> esID
    seal_kinds: dict[str, str]  # signer name -> SealKind name
    tokens: dict[str, Path]  # "sm2" | "ecdsa" | "rsa" -> tokens/<name>.soft
    pin_file: Path
    pin: str = DEV_PIN
    company: str = COMPANY
    uscc: str = COMPANY_USCC
    files: list[Path] = field(default_factory=list)  # everything written, in order
    skf_home: Path | None = None  # SOFTSKF_HOME of the software SKF key (DIR/skf)

    @property
    def root(self) -> Path:
        return self.roots["sm2"]

    def to_json(self) -> dict[str, Any]:
        return {
            "dir": str(self.dir),
            "company": self.company,
            "uscc": self.uscc,
            "roots": {k: str(v) for k, v in self.roots.items()},
            "signers": {
                n: {"key": str(self.signer_keys[n]), "cert": str(self.signer_certs[n])}
                for n in self.signer_keys
            },
            "maker": {"key": str(self.maker_key), "cert": str(self.maker_cert)},
            "seals": {
                n: {"file": str(p), "esID": self.seal_ids[n], "kind": self.seal_kinds[n]}
                for n, p in self.seals.items()
            },
            "tokens": {n: str(p) for n, p in self.tokens.items()},
            "pin_file": str(self.pin_file),
            "skf_home": str(self.skf_home) if self.skf_home else None,
            "files": [str(p) for p in self.files],
        }


# --------------------------------------------------------------------------------------------- keys


def generate_key(key_type: str) -> Any:
    if key_type == "sm2":
        from formats.gm import SM2PrivateKey

        return SM2PrivateKey.generate()
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise SealBridgeError("BAD_REQUEST", f"unknown key type {key_type!r} (sm2, rsa, ecdsa)")


def key_pem(key: Any) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return key.to_pkcs8_pem()


def cert_pem(cert_der: bytes) -> bytes:
    return pem.armor("CERTIFICATE", cert_der)


def self_signed_key(key_type: str, common_name: str) -> tuple[Any, bytes]:
    """A fresh key with a self-signed end-entity certificate (digitalSignature + nonRepudiation, 2 years)."""
    from formats.x509 import build_certificate

    key = generate_key(key_type)
    cert = build_certificate(
        {"country_name": "CN", "common_name": common_name},
        key,
        None,
        key,
        not_after=datetime.now(UTC) + VALIDITY,
        key_usage={"digital_signature", "non_repudiation"},
    )
    return key, cert


# --------------------------------------------------------------------------------------------- files


def _write(path: Path, data: bytes, private: bool = False) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot write {path}: {exc.strerror}") from None
    atomic_write(path, data, 0o600 if private else 0o644)


def _check_target(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise SealBridgeError("BAD_REQUEST", f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise SealBridgeError("CONFLICT", f"{directory} is not empty (use --force to overwrite)")


# --------------------------------------------------------------------------------------------- the PKI


def make_dev_pki(dir: Path | str, *, force: bool = False, pin: str = DEV_PIN) -> DevPki:  # noqa: A002
    """Write a complete dev PKI into `dir` (refuses a non-empty directory unless force) and describe it."""
    from agent.tokens.soft import check_new_pin
    from formats.picture import draw_round_seal
    from formats.ses import SealKind

    check_new_pin(pin)
    base = Path(dir)
    _check_target(base, force)
    # Drawing the pictures is the slowest part (Pillow rotates every glyph; it releases the GIL), so it
    # runs in worker threads while the keys and certificates are made.
    pool = ThreadPoolExecutor(max_workers=4)
    pictures = {
        spec.signer: pool.submit(
            draw_round_seal,
            COMPANY,
            SealKind[spec.kind].picture_label,
            diameter_mm=SEAL_DIAMETER_MM,
            code=COMPANY_USCC,
        )
        for spec in SEALS
    }
    try:
        return _make(base, pin, pool, pictures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _make(base: Path, pin: str, pool: ThreadPoolExecutor, pictures: dict[str, Future[bytes]]) -> DevPki:
    from agent.tokens.soft import SoftKeyEntry, SoftToken
    from agent.tokens.softskf_store import write_device
    from formats.ses import SealKind
    from formats.ses.build import build_seal_v4
    from formats.x509 import build_certificate

    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=5), now + VALIDITY
    written: list[Path] = []

    def put(rel: str, data: bytes, private: bool = False) -> Path:
        path = base / rel
        _write(path, data, private)
        written.append(path)
        return path

    # Roots: one per algorithm, 10 years.
    root_keys: dict[str, Any] = {}
    root_certs: dict[str, bytes] = {}
    roots: dict[str, Path] = {}
    for alg in ("sm2", "rsa", "ecdsa"):
        key = generate_key(alg)
        subject = {
            "country_name": "CN",
            "organization_name": "SealBridge Dev CA",
            "common_name": f"SealBridge Dev {alg.upper()} Root CA",
        }
        cert = build_certificate(
            subject, key, None, key, not_before=start, not_after=now + timedelta(days=3650), ca=True
        )
        root_keys[alg], root_certs[alg] = key, cert
        roots[alg] = put(f"ca/{ROOT_FILES[alg]}", cert_pem(cert))

    def issue(key: Any, root_alg: str, common_name: str, unit: str) -> bytes:
        subject = {
            "country_name": "CN",
            "organization_name": COMPANY,
            "organizational_unit_name": unit,
            "common_name": common_name,
            "serial_number": COMPANY_USCC,
        }
        return build_certificate(
            subject,
            key,
            root_certs[root_alg],
            root_keys[root_alg],
            not_before=start,
            not_after=end,
            key_usage={"digital_signature", "non_repudiation"},
        )

    signer_keys: dict[str, Any] = {}
    signer_certs: dict[str, bytes] = {}
    key_paths: dict[str, Path] = {}
    cert_paths: dict[str, Path] = {}
    for name in SIGNER_NAMES:
        key_type = "sm2" if name == "sm2b" else name
        key = generate_key(key_type)
        cert = issue(key, SIGNER_ROOT[name], f"{COMPANY} {name} 签章人", "电子印章")
        signer_keys[name], signer_certs[name] = key, cert
        key_paths[name] = put(f"keys/{name}-signer.key.pem", key_pem(key), private=True)
        cert_paths[name] = put(f"keys/{name}-signer.cert.pem", cert_pem(cert))

    maker_key = generate_key("sm2")
    maker_cert = build_certificate(
        {
            "country_name": "CN",
            "organization_name": "SealBridge Dev CA",
            "common_name": "SealBridge Dev 电子印章制作",
        },
        maker_key,
        root_certs["sm2"],
        root_keys["sm2"],
        not_before=start,
        not_after=end,
        key_usage={"digital_signature", "non_repudiation"},
    )
    maker_key_path = put("keys/maker.key.pem", key_pem(maker_key), private=True)
    maker_cert_path = put("keys/maker.cert.pem", cert_pem(maker_cert))

    seal_ders: dict[str, bytes] = {}
    seal_paths: dict[str, Path] = {}
    for spec in SEALS:
        kind = SealKind[spec.kind]
        png = pictures[spec.signer].result()
        seal_ders[spec.signer] = build_seal_v4(
            esid=spec.esid,
            name=COMPANY if kind is SealKind.LEGAL_NAME else f"{COMPANY}{kind.label_zh}",
            seal_type=kind.code,
            vid="SealBridgeDev",
            certs=[signer_certs[spec.signer]],
            picture=("PNG", png, SEAL_DIAMETER_MM, SEAL_DIAMETER_MM),
            valid_start=start,
            valid_end=end,
            created=now,
            maker_key=maker_key,
            maker_cert_der=maker_cert,
        )
        seal_paths[spec.signer] = put(f"seals/{spec.signer}.esl", seal_ders[spec.signer])

    # Soft tokens: the KDF runs outside the GIL (argon2-cffi), so the three tokens are made in parallel.
    (base / "tokens").mkdir(parents=True, exist_ok=True)

    def make_token(name: str) -> Path:
        path = base / "tokens" / f"{name}.soft"
        entry = SoftKeyEntry(signer_keys[name], signer_certs[name], [root_certs[SIGNER_ROOT[name]]])
        label = f"SealBridge dev {name}"
        SoftToken.create(path, pin, label=label, keys=[entry], seals=[seal_ders[name]], overwrite=True)
        return path

    token_paths = dict(zip(TOKEN_NAMES, pool.map(make_token, TOKEN_NAMES), strict=True))
    written.extend(token_paths.values())
    pin_path = put("tokens/PIN", (pin + "\n").encode("utf-8"), private=True)
    written += write_device(
        base / "skf",
        pin=pin,
        key_pem=key_pem(signer_keys["sm2"]),
        cert_der=signer_certs["sm2"],
        seals=[seal_ders["sm2"]],
    )

    return DevPki(
        dir=base,
        roots=roots,
        signer_keys=key_paths,
        signer_certs=cert_paths,
        maker_key=maker_key_path,
        maker_cert=maker_cert_path,
        seals=seal_paths,
        seal_ids={s.signer: s.esid for s in SEALS},
        seal_kinds={s.signer: s.kind for s in SEALS},
        tokens=token_paths,
        pin_file=pin_path,
        pin=pin,
        files=written,
        skf_home=base / "skf",
    )
