"""OFD fixtures: a small SM2 PKI and V4 seals made with formats.gm / formats.x509 / formats.ses directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from formats.gm import SM2PrivateKey
from formats.keysigner import KeySigner
from formats.picture import draw_round_seal
from formats.ses.build import build_seal_v4
from formats.x509 import build_certificate
from tests.support.ofd_maker import make_ofd, text_object

NOW = datetime.now(UTC)


@dataclass
class Pki:
    root_cert: bytes
    root_key: SM2PrivateKey
    signer: KeySigner
    other_signer: KeySigner
    maker_key: SM2PrivateKey
    maker_cert: bytes
    seal: bytes  # V4 seal bound to `signer`, valid now
    seal_picture: bytes

    def make_seal(self, *, certs: list[bytes] | None = None, start: datetime | None = None,
                  end: datetime | None = None, size: int = 40, esid: str = "3201000000001") -> bytes:  # fmt: skip
        return build_seal_v4(
            esid=esid,
            name="测试合同专用章",
            seal_type=1,
            vid="SealBridgeTest",
            certs=certs if certs is not None else [self.signer.certificate],
            picture=("png", self.seal_picture, size, size),
            valid_start=start or NOW - timedelta(days=30),
            valid_end=end or NOW + timedelta(days=365),
            maker_key=self.maker_key,
            maker_cert_der=self.maker_cert,
        )


def _leaf(cn: str, root_key: SM2PrivateKey, root_cert: bytes) -> tuple[SM2PrivateKey, bytes]:
    key = SM2PrivateKey.generate()
    cert = build_certificate(
        {"common_name": cn, "organization_name": "示例科技有限公司"},
        key.public_key,
        root_cert,
        root_key,
        not_before=NOW - timedelta(days=60),
        not_after=NOW + timedelta(days=730),
    )
    return key, cert


@pytest.fixture(scope="session")
def pki() -> Pki:
    root_key = SM2PrivateKey.generate()
    root_cert = build_certificate(
        {"common_name": "SealBridge OFD Test Root"}, root_key.public_key, None, root_key, ca=True,
        not_before=NOW - timedelta(days=365), not_after=NOW + timedelta(days=3650),
    )  # fmt: skip
    key, cert = _leaf("张三", root_key, root_cert)
    key2, cert2 = _leaf("李四", root_key, root_cert)
    maker_key, maker_cert = _leaf("Seal Maker", root_key, root_cert)
    picture = draw_round_seal("示例科技有限公司", "合同专用章", diameter_mm=40, px_per_mm=6)
    p = Pki(root_cert, root_key, KeySigner(key, cert, [root_cert]), KeySigner(key2, cert2, [root_cert]),
            maker_key, maker_cert, b"", picture)  # fmt: skip
    p.seal = p.make_seal()
    return p


@pytest.fixture
def simple_ofd() -> bytes:
    return make_ofd([text_object("甲方（盖章）：示例科技有限公司", 20, 200), text_object("第二页", 20, 30)])


@pytest.fixture
def ofd_samples(samples: Path) -> Path:
    return samples / "ofd"


@pytest.fixture
def build_ofd():
    """make_ofd as a fixture (test modules cannot import conftest)."""
    return make_ofd


@pytest.fixture
def text_obj():
    return text_object
