"""Builders of hostile inputs, made in the test (never stored): a zip entry that lies about its size,
a PDF whose incremental update nests an array 100,000 deep, a certificate a lazy parser chokes on."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zipfile
import zlib

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")


def deflate_bomb(inflated: int, head: bytes = b"") -> bytes:
    """A raw deflate stream that inflates to `head` plus spaces, `inflated` bytes in all, cheaply: one MiB
    compressed once with a full flush (no back-references across it) and repeated."""
    mib = 1 << 20
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [first.compress(head.ljust(min(inflated, mib), b" ")) + first.flush(zlib.Z_FULL_FLUSH)]
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = block.compress(b" " * mib) + block.flush(zlib.Z_FULL_FLUSH)
    left = inflated - min(inflated, mib)
    out.extend(chunk for _ in range(left // mib))
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    out.append(tail.compress(b" " * (left % mib)) + tail.flush(zlib.Z_FINISH))
    return b"".join(out)


def write_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip from (name, raw deflate data, declared size, declared CRC): both headers say what we are told."""
    buf = io.BytesIO()
    central = []
    for name, raw, size, crc in entries:
        offset = buf.tell()
        fname = name.encode()
        buf.write(_LOCAL.pack(b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(raw), size, len(fname), 0))
        buf.write(fname + raw)
        central.append(
            _CENTRAL.pack(
                b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(raw), size, len(fname), 0, 0, 0, 0, 0, offset
            )
            + fname
        )
    start = buf.tell()
    cd = b"".join(central)
    buf.write(cd)
    buf.write(_END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(cd), start, 0))
    return buf.getvalue()


def lying_entry(package: bytes, target: str, inflated: int = 1 << 30, declared: int = 400) -> bytes:
    """`package` rewritten with `target` replaced by a stream of `inflated` bytes whose local header and
    central directory both declare `declared` bytes (and the CRC of the first `declared` bytes)."""
    entries = []
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == target:
                bomb = deflate_bomb(inflated, data)
                prefix = data.ljust(inflated, b" ")[:declared]
                entries.append((info.filename, bomb, declared, zlib.crc32(prefix)))
            else:
                c = zlib.compressobj(6, zlib.DEFLATED, -15)
                entries.append((info.filename, c.compress(data) + c.flush(), len(data), zlib.crc32(data)))
    if target not in {e[0] for e in entries}:
        raise ValueError(f"{target} is not in the package")
    return write_zip(entries)


def run_measured(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> tuple[
    subprocess.CompletedProcess, int]:  # fmt: skip
    """Run `argv` under a fresh Python parent and return (the result, the child's peak RSS in bytes).
    The parent in between makes RUSAGE_CHILDREN cover that one child, not every process pytest started."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "sys.stdout.buffer.write(r.stdout)\n"
        "sys.stderr.buffer.write(r.stderr)\n"
        "sys.stderr.write('\\nMAXRSS_KIB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(r.returncode)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env, timeout=timeout
    )
    marker = res.stderr.rsplit("MAXRSS_KIB=", 1)
    peak = int(marker[1].strip()) * 1024 if len(marker) == 2 else -1
    res.stderr = marker[0]
    return res, peak


def ofd_zip_bomb(samples_dir) -> bytes:  # noqa: ANN001 - a pathlib.Path
    """The unsigned sample with its page Content.xml inflating to 1 GiB while both headers say 400 bytes."""
    base = (samples_dir / "ofd" / "unsigned-helloworld.ofd").read_bytes()
    return lying_entry(base, "Doc_0/Pages/Page_0/Content.xml")


def stamped_pdf(dev_pki, workdir) -> bytes:  # noqa: ANN001 - agent.devpki.DevPki, pathlib.Path
    """A one-page PDF stamped by `sealbridge stamp` with the dev PKI's SM2 soft token."""
    import pikepdf

    from sealbridge.cli import main

    src, dst = workdir / "blank.pdf", workdir / "stamped.pdf"
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(src)
    argv = ["stamp", str(src), "-o", str(dst), "--token", f"soft:{dev_pki.tokens['sm2']}",
            "--pin-file", str(dev_pki.pin_file), "--place", "page=1,x=50,y=50", "--json"]  # fmt: skip
    if main(argv) != 0:
        raise RuntimeError("stamping the base PDF failed")
    return dst.read_bytes()


def deep_trailer(pdf: bytes, depth: int = 100_000) -> bytes:
    """`pdf` plus an incremental update whose trailer holds an array nested `depth` deep."""
    import re

    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    root = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", pdf)[-1]
    size = max(int(s) for s in re.findall(rb"/Size\s+(\d+)", pdf))
    xref_at = len(pdf) + 1
    update = (
        b"\nxref\n0 0\ntrailer\n<< /Size %d /Root %s /Prev %d /Deep " % (size, root, prev)
        + b"[" * depth
        + b"]" * depth
        + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    )
    return pdf + update


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = (
        bytes([n])
        if n < 128
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def poisoned_name(name_der: bytes) -> bytes:
    """`name_der` (an X.509 Name) plus one RDN uniqueIdentifier (2.5.4.45) holding a UTF8String where
    asn1crypto expects a BIT STRING: the Name loads, and fails only when a field is first compared."""
    from asn1crypto import x509

    rdn = _der(0x31, _der(0x30, _der(0x06, bytes([0x55, 0x04, 0x2D])) + _der(0x0C, "甲".encode())))
    return _der(0x30, x509.Name.load(name_der).chosen.contents + rdn)


def poisoned_certificate(cert_der: bytes) -> bytes:
    """`cert_der` with its issuer Name poisoned (the signature no longer matches; it must never be read)."""
    from asn1crypto import x509

    cert = x509.Certificate.load(cert_der)
    tbs = cert["tbs_certificate"]
    old = tbs["issuer"].dump()
    new_tbs = _der(0x30, tbs.contents.replace(old, poisoned_name(old), 1))
    return _der(0x30, new_tbs + cert["signature_algorithm"].dump() + cert["signature_value"].dump())


def ofd_with_poisoned_pkcs7_cert(ofd: bytes, signed_value: str) -> bytes:
    """A PKCS#7-signed OFD whose SignedValue at `signed_value` carries the signer's certificate with a
    poisoned issuer Name, and a signer identifier naming that issuer."""
    from asn1crypto import cms, x509

    from formats.gm.oids import register_asn1crypto_oids

    register_asn1crypto_oids()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(ofd)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == signed_value:
                info_ = cms.ContentInfo.load(data)
                signed = info_["content"]
                bad = poisoned_certificate(signed["certificates"][0].chosen.dump())
                signed["certificates"] = cms.CertificateSet(
                    [cms.CertificateChoices(name="certificate", value=x509.Certificate.load(bad))]
                )
                sid = signed["signer_infos"][0]["sid"].chosen
                signed["signer_infos"][0]["sid"] = cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value=cms.IssuerAndSerialNumber(
                        {
                            "issuer": x509.Name.load(poisoned_name(sid["issuer"].dump())),
                            "serial_number": sid["serial_number"].native,
                        }
                    ),
                )
                data = cms.ContentInfo(
                    {"content_type": info_["content_type"].native, "content": signed}
                ).dump()
            dst.writestr(info, data)
    return out.getvalue()
