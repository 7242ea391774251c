"""A Signer whose sign() runs C_SignInit/C_Sign on a PKCS#11 token.

RSA: CKM_SHA*_RSA_PKCS (or _PSS) so the token hashes; a token without the combined mechanism gets the
DigestInfo through CKM_RSA_PKCS. ECDSA: the host hashes and CKM_ECDSA signs the digest; PKCS#11 returns raw
r‖s, the Signer contract wants DER. SM2: through a vendor profile (agent.tokens.profiles).
"""

from __future__ import annotations

from typing import Any

from asn1crypto import algos, keys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from formats.errors import SealBridgeError
from formats.gm import DEFAULT_ID, raw_to_der, sm2_digest, to_der

from .pkcs11_errors import map_error
from .pkcs11_module import Module, TokenLogin
from .profiles import Sm2Profile

_HASHES: dict[str, tuple[type[hashes.HashAlgorithm], Mechanism, Mechanism, Mechanism]] = {
    # digest -> (host hash, CKM_SHAx_RSA_PKCS, CKM_SHAx_RSA_PKCS_PSS, CKM_SHAx for PSS params)
    "sha256": (hashes.SHA256, Mechanism.SHA256_RSA_PKCS, Mechanism.SHA256_RSA_PKCS_PSS, Mechanism.SHA256),
    "sha384": (hashes.SHA384, Mechanism.SHA384_RSA_PKCS, Mechanism.SHA384_RSA_PKCS_PSS, Mechanism.SHA384),
    "sha512": (hashes.SHA512, Mechanism.SHA512_RSA_PKCS, Mechanism.SHA512_RSA_PKCS_PSS, Mechanism.SHA512),
}
_MGF = {"sha256": MGF.SHA256, "sha384": MGF.SHA384, "sha512": MGF.SHA512}


def _hash_parts(digest: str) -> tuple[type[hashes.HashAlgorithm], Mechanism, Mechanism, Mechanism]:
    try:
        return _HASHES[digest.lower().replace("-", "")]
    except KeyError:
        raise SealBridgeError("MECHANISM_UNSUPPORTED", f"digest {digest!r} is not supported") from None


def _host_hash(algorithm: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    h = hashes.Hash(algorithm())
    h.update(data)
    return h.finalize()


class Pkcs11Signer:
    """Signs with the private key `key_id` (CKA_ID) while the token's login lasts.

    `rsa_pss` switches RSA to RSASSA-PSS (salt = hash length) for callers that declare PSS themselves; the
    Signer contract's plain "rsa" (what stamping expects) is PKCS#1 v1.5.

    Every call must run where calls to the module are allowed (the token's worker); the module lock is taken
    here as well, so a direct call from another thread is still safe, only slower."""

    def __init__(
        self,
        module: Module,
        label: str,
        login: TokenLogin,
        key_id: bytes,
        certificate: bytes,
        chain: list[bytes],
        algorithm: str,
        *,
        rsa_pss: bool = False,
        sm2_profile: Sm2Profile | None = None,
    ) -> None:
        self.certificate = certificate
        self.chain = chain
        self.algorithm = algorithm
        self.key_id = key_id
        self.rsa_pss = rsa_pss
        self.sm2_profile = sm2_profile
        self._module = module
        self._label = label
        self._login: TokenLogin | None = login
        self._key: Any = None
        self._key_session: Any = None  # the session _key belongs to (a new login opens a new session)
        if sm2_profile is not None:
            sm2_profile.register()  # python-pkcs11 reads CKA_KEY_TYPE through the KeyType enum
        login.signers.add(self)

    # -- life cycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Give up this signer; the token is logged out once no signer of it remains."""
        login, self._login = self._login, None
        if login is not None:
            with self._module.lock:
                login.signers.discard(self)
                if not len(login.signers) and self._module.current_login(self._label) is login:
                    self._module.logout(self._label)

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- signing ------------------------------------------------------------------------------------------
    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        with self._module.lock:
            key = self._private_key()
            try:
                if self.algorithm == "rsa":
                    return self._sign_rsa(key, data, digest)
                if self.algorithm == "ecdsa":
                    return self._sign_ecdsa(key, data, digest)
                if self.algorithm == "sm2":
                    return self._sign_sm2(key, data)
            except p11e.PKCS11Error as exc:
                raise self._failure(exc) from None
            raise SealBridgeError("MECHANISM_UNSUPPORTED", f"key algorithm {self.algorithm!r}")

    def _private_key(self) -> Any:
        login = self._module.current_login(self._label)
        if login is None or login is not self._login:
            # The token was removed (the hot-plug monitor dropped its login), the module was re-initialised, or
            # another signer logged in with a wrong PIN: the session is gone and only a new PIN brings it back.
            raise SealBridgeError(
                "TOKEN_ABSENT", f"the session with token {self._label!r} has ended; log in again"
            )
        if self._key is None or self._key_session is not login.session:
            try:
                self._key = login.session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=self.key_id)
            except p11e.PKCS11Error as exc:
                raise self._failure(exc) from None
            self._key_session = login.session
        return self._key

    def _failure(self, exc: p11e.PKCS11Error, what: str = "C_Sign") -> SealBridgeError:
        # A token pulled out mid-call answers with whatever its module likes (SoftHSM2: CKR_OBJECT_HANDLE_INVALID
        # or CKR_GENERAL_ERROR). If the token is no longer listed, say TOKEN_ABSENT and drop the login.
        err = map_error(exc, what=what)
        if err.code in ("TOKEN_ERROR", "KEY_NOT_FOUND") and self._module.token_flags(self._label) is None:
            self._module.forget(self._label)
            return SealBridgeError("TOKEN_ABSENT", err.detail)
        return err

    def _sign_rsa(self, key: Any, data: bytes, digest: str) -> bytes:
        host_hash, pkcs1_mech, pss_mech, hash_mech = _hash_parts(digest)
        if self.rsa_pss:
            salt = host_hash.digest_size
            params = (hash_mech, _MGF[digest.lower().replace("-", "")], salt)
            return bytes(key.sign(data, mechanism=pss_mech, mechanism_param=params))
        try:
            return bytes(key.sign(data, mechanism=pkcs1_mech))
        except p11e.MechanismInvalid:
            # Some smart-card modules only offer raw CKM_RSA_PKCS: give them the DigestInfo.
            info = algos.DigestInfo(
                {"digest_algorithm": {"algorithm": digest.lower()}, "digest": _host_hash(host_hash, data)}
            ).dump()
            return bytes(key.sign(info, mechanism=Mechanism.RSA_PKCS))

    def _sign_ecdsa(self, key: Any, data: bytes, digest: str) -> bytes:
        host_hash = _hash_parts(digest)[0]
        raw = bytes(key.sign(_host_hash(host_hash, data), mechanism=Mechanism.ECDSA))
        half = len(raw) // 2
        if len(raw) % 2 or not half:
            raise SealBridgeError("TOKEN_ERROR", f"CKM_ECDSA returned {len(raw)} bytes")
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def _sign_sm2(self, key: Any, data: bytes) -> bytes:
        profile = self.sm2_profile
        if profile is None:
            raise SealBridgeError(
                "MECHANISM_UNSUPPORTED", "no SM2 mechanism profile configured for this token"
            )
        profile.register()
        if profile.z_on_token:
            message, param = data, (DEFAULT_ID if profile.id_param else None)
        else:
            x, y = _ec_point(self.certificate)
            message, param = sm2_digest(x, y, data), None
        try:
            out = bytes(key.sign(message, mechanism=profile.mechanism, mechanism_param=param))
        except p11e.PKCS11Error as exc:
            what = f"C_SignInit/C_Sign with SM2 profile {profile.name} ({profile.sign_mechanism:#x})"
            raise self._failure(exc, what) from None
        if profile.output == "raw":
            if len(out) != 64:
                raise SealBridgeError(
                    "TOKEN_ERROR", f"profile {profile.name}: expected 64 raw bytes, got {len(out)}"
                )
            return raw_to_der(out)
        return to_der(out)


def _ec_point(cert_der: bytes) -> tuple[int, int]:
    from asn1crypto import x509

    spki: keys.PublicKeyInfo = x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
    point = bytes(spki["public_key"])
    if len(point) != 65 or point[0] != 4:
        raise SealBridgeError("CERT_INVALID", "the SM2 certificate's public key is not an uncompressed point")
    return int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
