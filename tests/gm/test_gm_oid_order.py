"""OID registration must work whatever asn1crypto class was used first (a fresh interpreter each time)."""

import subprocess
import sys

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
