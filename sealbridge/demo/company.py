"""The demo company at the platform and on its USB key: register the company (name + USCC), file an imprint
per seal (同章同模), have the platform make each seal bound to the holder's certificate, then write the keys
and those seals onto the demo's soft token (the stand-in for the company's USB key)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from agent.devpki import DevPki
from sealbridge.demo.platform import CentralPlatform, SealPlan, seal_plans

SEAL_SIZE_MM = {"official": 42, "contract": 40, "position": 38}


@dataclass
class DemoSeal:
    plan: SealPlan
    esid: str
    der: bytes

    @property
    def title(self) -> str:
        return f"{self.plan.zh} / {self.plan.en} {self.esid}"


def _cert_der(path: Path) -> bytes:
    from formats.gm.keys import load_certificates

    return load_certificates(path.read_bytes())[0].dump()


def _imprint(company: str, uscc: str, plan: SealPlan) -> bytes:
    from formats.picture import draw_round_seal

    code = uscc if plan.role == "official" else None
    return draw_round_seal(company, plan.imprint_label, diameter_mm=SEAL_SIZE_MM[plan.role], code=code)


async def register_seals(platform: CentralPlatform, pki: DevPki) -> dict[str, DemoSeal]:
    """Company, imprints and seals at the platform; returns the seals by role."""
    company = await platform.register_company(pki.uscc, pki.company)
    plans = seal_plans(pki.company)
    pictures = await asyncio.gather(*(asyncio.to_thread(_imprint, pki.company, pki.uscc, p) for p in plans))
    seals: dict[str, DemoSeal] = {}
    for plan, png in zip(plans, pictures, strict=True):
        imprint = await platform.file_imprint(company["id"], plan.name, png, SEAL_SIZE_MM[plan.role])
        cert = _cert_der(pki.signer_certs[plan.signer])
        made = await platform.make_seal(pki.uscc, imprint["id"], plan, cert)
        seals[plan.role] = DemoSeal(plan, made["esID"], made["seal_der"])
    return seals


def write_token(path: Path, pin_file: Path, pki: DevPki, seals: dict[str, DemoSeal]) -> None:
    """The demo soft token: the company signer key (公章, 合同专用章) and the legal representative's key
    (职务章), each with its certificate chain, plus the three seals the platform made."""
    from agent.tokens.soft import SoftKeyEntry, SoftToken
    from formats.gm.keys import load_private_key

    root = _cert_der(pki.roots["sm2"])
    labels = {"sm2": "示例科技 单位签章密钥", "sm2b": "李明 法定代表人签章密钥"}
    entries = [
        SoftKeyEntry(
            load_private_key(pki.signer_keys[name].read_bytes()),
            _cert_der(pki.signer_certs[name]),
            [root],
            labels[name],
        )
        for name in ("sm2", "sm2b")
    ]
    SoftToken.create(
        path,
        pki.pin,
        label="示例科技 电子印章UKey (demo)",
        keys=entries,
        seals=[s.der for s in seals.values()],
        overwrite=True,
    )
    pin_file.write_text(pki.pin + "\n")
    pin_file.chmod(0o600)
