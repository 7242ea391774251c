"""An SM2 RFC 3161 token made in the test and placed into a stamped OFD's SES_Signature ([0] timeStamp)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, tsp, x509

from formats.gm import SM2PrivateKey, sm3
from formats.ses import parse_signature
from formats.ses.der import encode_length, parse_der, sequence_of_raw
from formats.x509 import build_certificate
from stamping.ofd import stamp
from stamping.options import StampOptions
from stamping.placement import At

VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"


def tsa_token(pki, covered: bytes, gen_time: datetime) -> bytes:
    key = SM2PrivateKey.generate()
    now = datetime.now(UTC)
    cert_der = build_certificate(
        {"common_name": "Test TSA"}, key.public_key, pki.root_cert, pki.root_key,
        not_before=now - timedelta(days=10), not_after=now + timedelta(days=10), ext_key_usage=["time_stamping"],
    )  # fmt: skip
    cert = x509.Certificate.load(cert_der)
    tst = tsp.TSTInfo(
        {
            "version": 1,
            "policy": "1.2.3.4",
            "message_imprint": {"hash_algorithm": {"algorithm": "sm3"}, "hashed_message": sm3(covered)},
            "serial_number": 7,
            "gen_time": gen_time,
        }
    ).dump()
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [sm3(tst)]},
        ]
    )
    signature = key.sign(attrs.dump())
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                "issuer_and_serial_number", {"issuer": cert.issuer, "serial_number": cert.serial_number}
            ),
            "digest_algorithm": {"algorithm": "sm3"},
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"}),
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sm3"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst)},
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def with_timestamp(ofd: bytes, make_token) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(ofd))
    der = src.read(VALUE)
    tree = parse_der(der)
    token = make_token(parse_signature(der).signature)
    bits = core.OctetBitString(token).dump()
    wrapped = b"\xa0" + encode_length(len(bits)) + bits  # [0] EXPLICIT BIT STRING
    new = sequence_of_raw(*[c.raw(der) for c in tree.children], wrapped)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, new if info.filename == VALUE else src.read(info.filename))
    return buf.getvalue()


def stamped_sample(ofd_samples, pki) -> bytes:
    out = io.BytesIO()
    data = (ofd_samples / "unsigned-helloworld.ofd").read_bytes()
    stamp(data, out, pki.signer, pki.seal, [At(page=1, x=100, y=100)], StampOptions())
    return out.getvalue()
