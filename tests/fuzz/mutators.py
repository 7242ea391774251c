"""Seeded mutations: byte flips, truncation, chunk duplication, zip-entry edits (one XML replaced by a mutated
one), DER header edits, and PDF edits next to /ByteRange and the xref. Each returns (bytes, name)."""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable

Mutator = Callable[[bytes, random.Random], bytes]
_DER_TAGS = (0x02, 0x03, 0x04, 0x06, 0x0C, 0x13, 0x16, 0x17, 0x18, 0x30, 0x31, 0xA0, 0xA1, 0xA3)


def flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def duplicate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 4096)]
    at = rng.randrange(len(data) + 1)
    return data[:at] + chunk * rng.randint(1, 3) + data[at:]


def der_header(data: bytes, rng: random.Random) -> bytes:
    """Change the length octets after a likely DER tag: shorter, longer, indefinite, huge."""
    spots = [i for i in range(len(data) - 2) if data[i] in _DER_TAGS]
    if not spots:
        return flip(data, rng)
    i = rng.choice(spots) + 1
    choice = rng.randrange(5)
    replacement = {
        0: bytes([max(0, data[i] - 1)]),
        1: bytes([min(0xFF, data[i] + 1)]),
        2: b"\x80",
        3: b"\x84\xff\xff\xff\xff",
        4: b"\x82" + rng.randbytes(2),
    }[choice]
    return data[:i] + replacement + data[i + 1 :]


def pdf_structure(data: bytes, rng: random.Random) -> bytes:
    """Edit digits or bytes right next to /ByteRange, xref, startxref, /Prev or /Contents."""
    marks = [m.end() for m in re.finditer(rb"/ByteRange|startxref|xref|/Prev|/Contents|/Size", data)]
    if not marks:
        return flip(data, rng)
    at = min(len(data) - 1, rng.choice(marks) + rng.randint(0, 24))
    edit = rng.randrange(4)
    if edit == 0:  # a digit changed
        return data[:at] + str(rng.randrange(10)).encode() + data[at + 1 :]
    if edit == 1:  # a number inserted
        return data[:at] + str(rng.randrange(10**9)).encode() + data[at:]
    if edit == 2:  # a byte removed
        return data[:at] + data[at + 1 :]
    return data[:at] + rng.choice([b"[", b"]", b"<<", b">>", b" 0 R", b"-1", b"99999999999"]) + data[at:]


def zip_entry(data: bytes, rng: random.Random, inner: Mutator | None = None) -> bytes:
    """One entry (XML preferred) replaced by a mutated one in an otherwise well-formed zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            infos = src.infolist()
            names = [i.filename for i in infos if not i.is_dir()]
            xml = [n for n in names if n.lower().endswith(".xml")]
            target = rng.choice(xml if xml and rng.random() < 0.8 else names)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in infos:
                    body = src.read(info)
                    if info.filename == target:
                        body = (inner or _xml_edit)(body, rng)
                    dst.writestr(info, body)
            return out.getvalue()
    except Exception:  # noqa: BLE001 - a mutant of a mutant may no longer be a zip: mutate the bytes
        return flip(data, rng)


def _xml_edit(body: bytes, rng: random.Random) -> bytes:
    edit = rng.randrange(5)
    if edit == 0:
        return flip(body, rng)
    if edit == 1:
        return truncate(body, rng)
    if edit == 2:
        return duplicate(body, rng)
    if edit == 3:  # an attribute value changed
        spots = [m.start(1) for m in re.finditer(rb'="([^"]*)"', body)]
        if spots:
            at = rng.choice(spots)
            return body[:at] + rng.choice([b"-1", b"1e309", b"../../x", b"Doc_0/", b"\xe4\xb8"]) + body[at:]
        return flip(body, rng)
    depth = rng.randint(10, 5000)  # deep nesting inside the root
    close = body.rfind(b"</")
    return body[:close] + b"<a>" * depth + b"</a>" * depth + body[close:] if close > 0 else body


def ofd_signed_value(data: bytes, rng: random.Random) -> bytes:
    """A DER edit inside one SignedValue.dat or Seal.esl of the package."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            infos = src.infolist()
            blobs = [i.filename for i in infos if i.filename.lower().endswith((".dat", ".esl"))]
            if not blobs:
                return zip_entry(data, rng)
            target = rng.choice(blobs)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in infos:
                    body = src.read(info)
                    dst.writestr(info, der_header(body, rng) if info.filename == target else body)
            return out.getvalue()
    except Exception:  # noqa: BLE001
        return flip(data, rng)


GENERIC: list[tuple[str, Mutator]] = [("flip", flip), ("truncate", truncate), ("duplicate", duplicate)]
BY_KIND: dict[str, list[tuple[str, Mutator]]] = {
    "pdf": [*GENERIC, ("pdf_structure", pdf_structure), ("pdf_structure", pdf_structure)],
    "ofd": [*GENERIC, ("zip_entry", zip_entry), ("zip_entry", zip_entry), ("der_in_zip", ofd_signed_value)],
    "seal": [*GENERIC, ("der_header", der_header), ("der_header", der_header)],
    "frame": [*GENERIC, ("der_header", der_header)],
}


def mutate(kind: str, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to three stacked mutations of `data`."""
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        name, fn = rng.choice(BY_KIND[kind])
        data = fn(data, rng)
        names.append(name)
    return data, "+".join(names)
