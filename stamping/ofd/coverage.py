"""Integrity of one OFD signature (its References) and what the package holds that it does not cover."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable

from formats.dochash import Hasher, new_hash
from formats.errors import SealBridgeError
from formats.ofd import SM3_CHECK_METHODS, OfdPackage, SignatureXml
from formats.ofd.package import fold_name
from stamping.report import Check, Reason, reason

_OTHER_HASHES = {"sha1": "sha1", "md5": "md5", "sha256": "sha256", "2.16.840.1.101.3.4.2.1": "sha256"}


def hash_name(check_method: str) -> str | None:
    """The hash algorithm a Signature.xml CheckMethod names ("sm3", "sha256"...), or None for one we do not
    know. Digests are shared by this name, never by the spelling: "SHA-256", "sha256" and "sha256-" are
    one algorithm, hashed once."""
    method = check_method.strip().lower()
    return "sm3" if method in SM3_CHECK_METHODS else _OTHER_HASHES.get(method.replace("-", ""))


def hasher_for(check_method: str) -> Callable[[], Hasher] | None:
    """A factory of fresh hash states for a Signature.xml CheckMethod, or None for one we do not know."""
    name = hash_name(check_method)
    return functools.partial(new_hash, name) if name else None


def check_references(
    pkg: OfdPackage, sig: SignatureXml, cache: dict[tuple[str, str], bytes] | None = None
) -> Check:
    """Recompute every Reference. Any mismatch or missing file → failed; an unknown CheckMethod → unknown.

    `cache` ((zip name, hash_name) → digest) is shared between the signatures of one document, so each file
    is read once per hash algorithm however many seals protect it."""
    cache = {} if cache is None else cache
    if not sig.references:
        return Check.failed("REFS_NONE")
    method = hash_name(sig.check_method)
    if method is None:
        return Check.unknown("REF_METHOD_UNSUPPORTED", method=sig.check_method)
    factory = functools.partial(new_hash, method)
    bad: list[Reason] = []
    for ref in sig.references:
        name = pkg.find(ref.path)
        if name is None:
            bad.append(reason("REF_FILE_MISSING", file=ref.path))
            continue
        try:
            expected = base64.b64decode(ref.check_value.strip(), validate=False)
        except (binascii.Error, ValueError):
            bad.append(reason("REF_CHECKVALUE_UNREADABLE", file=ref.path))
            continue
        key = (name, method)
        if key not in cache:
            try:
                cache[key] = pkg.digest(ref.path, factory)
            except SealBridgeError as err:
                bad.append(reason("REF_FILE_UNREADABLE", file=ref.path, error_code=err.code))
                continue
        actual = cache[key]
        if actual != expected:
            bad.append(reason("REF_DIGEST_MISMATCH", file=ref.path))
    if bad:
        return Check.of("failed", bad[:20])
    return Check.ok("REFS_MATCH", count=len(sig.references), method=_method_name(sig.check_method))


def _method_name(check_method: str) -> str:
    return "SM3" if check_method.strip().lower() in SM3_CHECK_METHODS else check_method.strip()


def own_files(sig: SignatureXml) -> set[str]:
    """The files a signature brings with it (its Signature.xml, SignedValue.dat and Seal.esl), folded."""
    files = {sig.path, sig.signed_value_path}
    if sig.seal_path:
        files.add(sig.seal_path)
    return {fold_name(f) for f in files}


def _own_files_in_its_folder(sig: SignatureXml) -> set[str]:
    """A later signature's own files, but only those inside its Sign_k folder: an unverified later
    Signature.xml could otherwise name any added file as its SignedValue or Seal and so hide it from the
    coverage check of every earlier seal."""
    base = fold_name(sig.path).rsplit("/", 1)[0] + "/"
    return {f for f in own_files(sig) if f.startswith(base)}


def reference_sets(sigs: list[SignatureXml | None]) -> list[set[str]]:
    """Each signature's referenced paths, folded as zip names are compared (case, "\\" for "/"; empty for
    an unreadable signature): every seal's coverage check compares against every other seal's References,
    so a verifier makes these once."""
    return [{fold_name(r.path) for r in s.references} if s is not None else set() for s in sigs]


def changes_after(
    pkg: OfdPackage,
    index: int,
    sigs: list[SignatureXml | None],
    signatures_path: str,
    ref_sets: list[set[str]] | None = None,
    covered_by_any: set[str] | None = None,
) -> tuple[Check, list[str]]:
    """Files of the package this signature (number `index` in Signatures.xml order) does not cover.

    Exempt: its own files, later signatures' own files, and Signatures.xml when it is not locked (later seals
    must add themselves to it). Of the rest, a file no signature covers at all → failed; a file only a later
    signature covers, or OFD.xml (several producers leave it out because they edit it while signing) →
    unknown, since we cannot tell whether it changed after this seal. `ref_sets` (reference_sets(sigs)) and
    `covered_by_any` (their union): made once by a verifier that checks every seal, so that the work per
    seal does not grow with every other seal's References.
    """
    sig = sigs[index]
    assert sig is not None
    refs = reference_sets(sigs) if ref_sets is None else ref_sets
    anyone = set().union(*refs) if covered_by_any is None else covered_by_any
    covered = refs[index]
    exempt = own_files(sig)
    for later in sigs[index + 1 :]:
        if later is not None:
            exempt |= _own_files_in_its_folder(later)
    locked = fold_name(signatures_path) in covered
    if not locked:
        exempt.add(fold_name(signatures_path))
    uncovered = [
        "/" + name
        for name in pkg.files()
        if (folded := fold_name("/" + name)) not in covered and folded not in exempt
    ]
    if not uncovered:
        later = any(s is not None for s in sigs[index + 1 :])
        return Check.ok("CHANGES_ONLY_LATER_SEALS" if later else "FILES_ALL_PROTECTED"), []
    # Not covered by this seal, so covered by anyone means by another seal.
    nobody = [p for p in uncovered if (f := fold_name(p)) not in anyone and f != "/ofd.xml"]
    if nobody:
        return Check.failed("FILES_NOT_PROTECTED", files=nobody[:20]), uncovered
    return Check.unknown("FILES_COVERED_ONLY_LATER", files=uncovered[:20]), uncovered
