"""PKCS#12 (RFC 7292) reading with our own decryption, so SM2 keys and legacy PBEs both work.

`cryptography` refuses SM2 keys inside a PKCS#12, and ofdrw's files use the legacy
pbeWithSHAAnd40BitRC2-CBC (certificates) + pbeWithSHAAnd3-KeyTripleDES-CBC (key). asn1crypto parses the
structures (BER with indefinite lengths included); this module derives keys (RFC 7292 appendix B, or
PBKDF2 for PBES2), decrypts with pycryptodomex, and checks the MAC so a wrong password is reported
as such rather than as garbage.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from asn1crypto import algos, cms, pkcs12
from Cryptodome.Cipher import AES, ARC2, DES, DES3

from ..errors import SealBridgeError

# Iteration counts come from the file. Real files use 1 to 600,000 (OpenSSL 2,048; Java 10,000 to 600,000);
# a file asking for billions would hang the caller, so counts above these are refused. The PKCS#12 KDF
# and PBES1 run their loop in Python (~1 M hashes/s), PBKDF2 runs in C.
MAX_PKCS12_KDF_ITERATIONS = 200_000
MAX_PBKDF2_ITERATIONS = 2_000_000
MAX_KEY_LENGTH = 64

_HASH_BLOCK = {"sha1": 64, "sha224": 64, "sha256": 64, "sha384": 128, "sha512": 128, "md5": 64}
_ID_KEY, _ID_IV, _ID_MAC = 1, 2, 3


def _bounded(iterations: object, limit: int) -> int:
    if not isinstance(iterations, int) or iterations < 1:
        raise SealBridgeError("DOC_MALFORMED", f"PKCS#12: bad iteration count {iterations!r}")
    if iterations > limit:
        raise SealBridgeError(
            "DOC_TOO_LARGE", f"PKCS#12: iteration count {iterations} is over the limit of {limit}"
        )
    return iterations


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, purpose: int, iterations: int, n: int) -> bytes:
    """RFC 7292 appendix B.2. `password` is already BMPString-encoded with its two trailing zero bytes."""
    iterations = _bounded(iterations, MAX_PKCS12_KDF_ITERATIONS)
    u = hashlib.new(hash_name).digest_size
    v = _HASH_BLOCK[hash_name]
    d = bytes([purpose]) * v

    def stretch(s: bytes) -> bytes:
        # Concatenate copies of s up to the next multiple of v bytes (empty stays empty).
        if not s:
            return b""
        length = v * ((len(s) + v - 1) // v)
        return (s * (length // len(s) + 1))[:length]

    i = bytearray(stretch(salt) + stretch(password))
    out = b""
    while len(out) < n:
        a = d + bytes(i)
        for _ in range(iterations):
            a = hashlib.new(hash_name, a).digest()
        out += a
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for j in range(0, len(i), v):
            block = (int.from_bytes(i[j : j + v], "big") + b) % (1 << (8 * v))
            i[j : j + v] = block.to_bytes(v, "big")
    return out[:n]


def _bmp_password(password: str) -> bytes:
    """BMPString with the terminating zero (so "" is two zero bytes, as OpenSSL writes it)."""
    return password.encode("utf-16-be") + b"\x00\x00"


def _unpad(data: bytes, block: int) -> bytes:
    if not data or len(data) % block:
        raise ValueError("bad ciphertext length")
    pad = data[-1]
    if not 1 <= pad <= block or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    return data[:-pad]


# legacy PKCS#12 PBE name -> (cipher factory(key, iv), key length, block size)
def _rc2(bits: int):
    return lambda key, iv: ARC2.new(key, ARC2.MODE_CBC, iv, effective_keylen=bits)


def _des3(key: bytes, iv: bytes):
    if len(key) == 16:  # two-key triple DES: K1 K2 K1
        key = key + key[:8]
    return DES3.new(key, DES3.MODE_CBC, iv)


_LEGACY = {
    "pkcs12_sha1_rc2_40": (_rc2(40), 5),
    "pkcs12_sha1_rc2_128": (_rc2(128), 16),
    "pkcs12_sha1_tripledes_3key": (_des3, 24),
    "pkcs12_sha1_tripledes_2key": (_des3, 16),
}


def decrypt(
    alg: algos.EncryptionAlgorithm, ciphertext: bytes, password: str, bmp: bytes | None = None
) -> bytes:
    """Decrypt PKCS#12 legacy PBE, PBES1 (DES) or PBES2 (PBKDF2 + AES/3DES) content.

    `bmp` overrides the BMPString form of the password for the PKCS#12 KDF (see _check_mac).
    """
    name = alg["algorithm"].native
    if name in _LEGACY:
        factory, key_len = _LEGACY[name]
        params = alg["parameters"]
        salt, rounds = params["salt"].native, params["iterations"].native
        pw = _bmp_password(password) if bmp is None else bmp
        key = pkcs12_kdf("sha1", pw, salt, _ID_KEY, rounds, key_len)
        iv = pkcs12_kdf("sha1", pw, salt, _ID_IV, rounds, 8)
        return _unpad(factory(key, iv).decrypt(ciphertext), 8)
    if name == "pbes2":
        params = alg["parameters"]
        kdf = params["key_derivation_func"]
        if kdf["algorithm"].native != "pbkdf2":
            raise ValueError(f"unsupported PBES2 KDF {kdf['algorithm'].native}")
        kp = kdf["parameters"]
        prf = kp["prf"]["algorithm"].native.replace("hmac_", "") if kp["prf"] else "sha1"
        cipher = params["encryption_scheme"]
        cipher_name = cipher["algorithm"].native
        key_len = kp["key_length"].native or alg.key_length
        if not isinstance(key_len, int) or not 1 <= key_len <= MAX_KEY_LENGTH:
            raise ValueError(f"bad PBES2 key length {key_len!r}")
        rounds = _bounded(kp["iteration_count"].native, MAX_PBKDF2_ITERATIONS)
        key = hashlib.pbkdf2_hmac(prf, password.encode("utf-8"), kp["salt"].native, rounds, key_len)
        iv = cipher["parameters"].native
        if cipher_name.startswith("aes"):
            return _unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(ciphertext), 16)
        if cipher_name == "tripledes_3key":
            return _unpad(DES3.new(key, DES3.MODE_CBC, iv).decrypt(ciphertext), 8)
        raise ValueError(f"unsupported PBES2 cipher {cipher_name}")
    if name == "pbes1_sha1_des" or name == "pbes1_md5_des":
        params = alg["parameters"]
        h = hashlib.new("sha1" if "sha1" in name else "md5", password.encode("utf-8") + params["salt"].native)
        dk = h.digest()
        for _ in range(_bounded(params["iterations"].native, MAX_PKCS12_KDF_ITERATIONS) - 1):
            dk = hashlib.new(h.name, dk).digest()
        return _unpad(DES.new(dk[:8], DES.MODE_CBC, dk[8:16]).decrypt(ciphertext), 8)
    raise ValueError(f"unsupported PKCS#12 encryption {name}")


@dataclass
class Pkcs12Contents:
    #: PKCS#8 PrivateKeyInfo DER of each key found, with its localKeyId (or None)
    keys: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    #: DER certificates, with their localKeyId (or None)
    certs: list[tuple[bytes, bytes | None]] = field(default_factory=list)


def _check_mac(pfx: pkcs12.Pfx, password: str) -> bytes:
    """Verify the MAC; return the BMPString password form that matched (an empty password has two)."""
    candidates = [_bmp_password(password)] + ([b""] if not password else [])
    mac_data = pfx["mac_data"]
    if not mac_data:
        return candidates[0]
    digest_alg = mac_data["mac"]["digest_algorithm"]["algorithm"].native
    if digest_alg not in _HASH_BLOCK:
        return candidates[0]  # unusual MAC hash: the key padding check still catches a wrong password
    salt = mac_data["mac_salt"].native
    rounds = mac_data["iterations"].native or 1
    content = pfx["auth_safe"]["content"].native
    expected = mac_data["mac"]["digest"].native
    size = hashlib.new(digest_alg).digest_size
    for pw in candidates:
        key = pkcs12_kdf(digest_alg, pw, salt, _ID_MAC, rounds, size)
        if hmac.compare_digest(hmac.new(key, content, digest_alg).digest(), expected):
            return pw
    raise SealBridgeError("PASSWORD_INCORRECT", "PKCS#12 MAC does not verify: wrong password")


def _local_key_id(bag: pkcs12.SafeBag) -> bytes | None:
    for attr in bag["bag_attributes"] or []:
        if attr["type"].native == "local_key_id":
            return attr["values"][0].native
    return None


def _walk_bags(bags: pkcs12.SafeContents, password: str, bmp: bytes, out: Pkcs12Contents) -> None:
    for bag in bags:
        kind = bag["bag_id"].native
        value = bag["bag_value"]
        if kind == "pkcs8_shrouded_key_bag":
            alg = value["encryption_algorithm"]
            try:
                plain = decrypt(alg, value["encrypted_data"].native, password, bmp)
            except ValueError as exc:
                raise SealBridgeError("PASSWORD_INCORRECT", f"cannot decrypt the key: {exc}") from exc
            out.keys.append((plain, _local_key_id(bag)))
        elif kind == "key_bag":
            out.keys.append((value.dump(), _local_key_id(bag)))
        elif kind == "cert_bag" and value["cert_id"].native == "x509":
            out.certs.append((value["cert_value"].parsed.dump(), _local_key_id(bag)))
        elif kind == "safe_contents":
            _walk_bags(value, password, bmp, out)


def read_pkcs12(data: bytes, password: str) -> Pkcs12Contents:
    """Every key (as PKCS#8 DER) and certificate in a PKCS#12 file."""
    try:
        pfx = pkcs12.Pfx.load(data)
        pfx["auth_safe"]["content"].native  # noqa: B018 - forces parsing so garbage fails here
    except Exception as exc:
        raise SealBridgeError("DOC_MALFORMED", f"not a PKCS#12 file: {exc}") from exc
    bmp = _check_mac(pfx, password)
    out = Pkcs12Contents()
    try:
        safe = pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
        for info in safe:
            ctype = info["content_type"].native
            if ctype == "data":
                _walk_bags(pkcs12.SafeContents.load(info["content"].native), password, bmp, out)
            elif ctype == "encrypted_data":
                enc: cms.EncryptedContentInfo = info["content"]["encrypted_content_info"]
                try:
                    plain = decrypt(
                        enc["content_encryption_algorithm"], enc["encrypted_content"].native, password, bmp
                    )
                except ValueError as exc:
                    raise SealBridgeError("PASSWORD_INCORRECT", f"cannot decrypt: {exc}") from exc
                _walk_bags(pkcs12.SafeContents.load(plain), password, bmp, out)
    except SealBridgeError:
        raise
    except Exception as exc:
        raise SealBridgeError("DOC_MALFORMED", f"malformed PKCS#12 content: {exc}") from exc
    return out
