"""OID registration must work whatever asn1crypto class was used first (a fresh interpreter each time)."""

import subprocess
import sys

import pytest

SCRIPT = """
from asn1crypto import algos, cms
# Use the classes first: asn1crypto builds each class's name->OID map once, on first use.
algos.DigestAlgorithm({"algorithm": "sha256"})
cms.CMSAttributeType("content_type")
cms.ContentType("data")
from formats.gm import register_asn1crypto_oids
from stamping.pdf import seal_attr
register_asn1crypto_oids()
seal_attr.register()
assert algos.DigestAlgorithm({"algorithm": "sm3"}).dump()
assert algos.SignedDigestAlgorithm({"algorithm": "sm2_sm3"})["algorithm"].dotted == "1.2.156.10197.1.501"
assert cms.ContentType("gm_signed_data").dotted == "1.2.156.10197.6.1.4.2.2"
assert cms.CMSAttributeType(seal_attr.ATTR_NAME).dotted == seal_attr.OID_SEALBRIDGE_SEAL
print("ok")
"""


def test_registration_after_the_classes_were_used():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


LATE_NAMES = """
import sys

import pytest
order = sys.argv[1]
from asn1crypto import cms, x509
if order == "classes-first":
    cms.ContentType("data"); cms.CMSAttributeType("content_type"); x509.ExtensionId("key_usage")
import formats.gm
if order == "gm-first":
    cms.ContentType("data"); cms.CMSAttributeType("content_type")
from asn1crypto import tsp  # what a timestamp client imports later, inside a stamp
# Names asn1crypto.tsp and asn1crypto.pdf add to other modules' classes: all work both ways, and so does
# re-encoding (asn1crypto re-encodes a parsed value whose length octets end in 0x80 -- a 384-byte token).
assert cms.ContentType("tst_info").dump(force=True).hex() == "060b2a864886f70d0109100104"
assert cms.CMSAttributeType("signing_certificate_v2").dotted == "1.2.840.113549.1.9.16.2.47"
assert x509.ExtensionId("adobe_timestamp").dotted == "1.2.840.113583.1.1.9.1"
parsed = cms.ContentType.load(bytes.fromhex("060b2a864886f70d0109100104"))
assert parsed.native == "tst_info" and parsed.dump(force=True) == parsed.dump()
print("ok")
"""


@pytest.mark.parametrize("order", ["classes-first", "gm-first"])
def test_names_other_asn1crypto_modules_add_work_whatever_was_used_first(order: str):
    out = subprocess.run(
        [sys.executable, "-c", LATE_NAMES, order], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
