"""Our TimeStamper strategy seen through pyHanko's TimeStamper interface.

pyHanko asks for a token over the CMS signature value (the signatureTimeStampToken unsigned attribute:
PAdES B-T for RSA/ECDSA, the same attribute with SM3 for SM2 signatures) and once more with a dummy digest
to size the signature container. The strategy was given to us by the agent/CLI; no network code here.
"""

from __future__ import annotations

from asn1crypto import cms
from pyhanko.sign.timestamps.api import TimeStamper as _PyHankoTimeStamper

from stamping.timestamps import TimeStamper


class PyHankoTimeStamper(_PyHankoTimeStamper):
    def __init__(self, ours: TimeStamper) -> None:
        super().__init__(include_nonce=False)  # the nonce is the strategy's business
        self._ours = ours

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        return cms.ContentInfo.load(self._ours.timestamp(bytes(message_digest), md_algorithm))
