"""The demo's parts on their own: the sample form (PDF/OFD, keyword on page 1), the compact report, and the
product-side agent client against a real in-process agent (authentication both ways, errors with codes)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pikepdf
import pytest

from agent.client import AgentClient, AgentConnectionError, AgentError, page_origin
from devkit.ports import free_port
from formats.errors import SealBridgeError
from sealbridge.demo.console import report_lines
from sealbridge.demo.samples import KEYWORD, make_ofd, make_pdf
from sealbridge.demo.workspace import MARKER, Workspace

COMPANY, USCC = "示例科技有限公司", "91321300MA1DEMX01J"
EXT = "chrome-extension://bcmacoahbnnfcbanjcodgfddjeoejknn"
PORTAL = page_origin("http://127.0.0.1:8080")


def test_sample_pdf_has_three_pages_and_the_keyword_on_page_one() -> None:
    from stamping.pdf.keywords import find_keyword

    data = make_pdf(COMPANY, USCC)
    assert len(pikepdf.open(io.BytesIO(data)).pages) == 3
    hits = find_keyword(data, KEYWORD)
    assert [h.page_index for h in hits] == [0]
    assert find_keyword(data, USCC)  # Latin inside the Chinese font is searchable too


def test_sample_ofd_has_three_pages_and_the_keyword_on_page_one() -> None:
    from formats.ofd.document import load_document
    from formats.ofd.package import OfdPackage
    from formats.ofd.text import find_text

    pkg = OfdPackage(make_ofd(COMPANY, USCC))
    doc = load_document(pkg)
    assert len(doc.pages) == 3
    hits = find_text(pkg, doc, KEYWORD)
    assert len(hits) == 1 and hits[0].page is doc.pages[0]


def test_report_lines_are_compact_and_name_failures() -> None:
    check = {"status": "ok", "applicable": True, "reasons": [{"code": "PKCS7_SIGNATURE_OK"}]}
    report = {
        "format": "ofd",
        "verdict": "invalid",
        "seals": [
            {
                "verdict": "invalid",
                "signed_at": "2026-11-26T10:00:00Z",
                "signer": {"name": "张三", "subject": "Common Name: 张三, Organization: 示例"},
                "seal": {"name": "合同专用章", "esID": "E1"},
                "checks": {
                    "integrity": {
                        "status": "failed",
                        "applicable": True,
                        "reasons": [
                            {"code": "REF_DIGEST_MISMATCH", "file": "Doc_0/Pages/Page_0/Content.xml"}
                        ],
                    },
                    "signature": check,
                    "platform_status": {
                        "status": "ok",
                        "applicable": True,
                        "reasons": [{"code": "PLATFORM_ACTIVE_AT_SIGNING", "now_status": "revoked"}],
                    },
                    "timestamp": {"status": "unknown", "applicable": False, "reasons": []},
                },
            }
        ],
    }
    text = "\n".join(report_lines(report))
    assert "结论 / verdict: 无效 / invalid" in text and "签章人 / signer: 张三" in text
    assert "2026-11-26 18:00:00 (UTC+8)" in text and "10:00:00" not in text  # Beijing time, zone shown
    assert "integrity✗" in text and "signature✓" in text and "timestamp–" in text
    # Each reason in Chinese first, then English, from the message catalogue; the file that changed is named.
    zh_line = next(line for line in text.splitlines() if "文档完整性未通过" in line)
    assert "Doc_0/Pages/Page_0/Content.xml" in zh_line and not re.search(r"[A-Za-z]{4,} [a-z]{3,}", zh_line)
    assert "integrity failed: " in text and "Content.xml" in text.split("integrity failed: ")[1]
    assert "盖章时印章在平台登记为有效" in text and "At signing the seal was active at the platform" in text


def test_workspace_wipes_only_its_own_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(SealBridgeError) as exc:
        Workspace(foreign).prepare()
    assert exc.value.code == "CONFLICT" and (foreign / "thesis.tex").exists()

    ws = Workspace(tmp_path / "demo")
    ws.prepare()
    (ws.documents / "old.pdf").write_bytes(b"%PDF")
    (ws.profile / "Default").mkdir(parents=True)
    ws.release()
    ws.prepare()  # a re-run: old results go, the browser profile stays
    assert (ws.root / MARKER).exists() and not (ws.documents / "old.pdf").exists()
    assert (ws.profile / "Default").is_dir()
    ws.release()
    assert not ws.pid_file.exists()


@pytest.fixture
async def running_agent(tmp_path: Path):
    from agent.server.app import create_app, make_context, start_sites
    from devkit.agent_config import agent_config

    policy = {PORTAL["top"]: "allowed"}
    cfg = agent_config(tmp_path, [], extension=EXT, site_policy=policy, allow_insecure_sites=True)
    ctx = make_context(cfg, require_platform=False)
    runner = await start_sites(create_app(ctx, cfg.port), cfg, cfg.port)
    yield f"ws://127.0.0.1:{cfg.port}/v1", ctx.secret
    await runner.cleanup()


async def test_client_authenticates_and_reports_errors_with_codes(running_agent) -> None:
    url, secret = running_agent
    async with await AgentClient.connect(url, secret, EXT) as client:
        hello = await client.hello()
        assert hello["agent"] == "sealbridge" and hello["protocol"] == 1
        assert await client.seals(PORTAL) == []
        with pytest.raises(AgentError) as exc:
            await client.verify(b"this is not a PDF or an OFD", PORTAL, name="junk.bin")
        assert exc.value.code in ("DOC_MALFORMED", "DOC_UNSUPPORTED") and exc.value.message_zh
        with pytest.raises(AgentError) as denied:
            await client.seals(page_origin("http://evil.example"))
        assert denied.value.code == "ORIGIN_NOT_ALLOWED"
        assert (await client.hello())["agent"] == "sealbridge"  # the connection survives errors


async def test_client_refuses_wrong_secret_and_is_refused_with_a_foreign_origin(running_agent) -> None:
    url, secret = running_agent
    with pytest.raises(AgentConnectionError, match="authentication failed"):
        await AgentClient.connect(url, bytes(32), EXT)
    with pytest.raises(AgentConnectionError, match="cannot open"):
        await AgentClient.connect(url, secret, "https://portal.example.cn")


async def test_journey_fails_when_the_agent_does_not_give_the_expected_results(
    running_agent, tmp_path: Path
) -> None:
    """Against an agent without the demo's token and platform, the journey must report failures (so
    `demo --once` exits non-zero), one line per failed step, and never raise."""
    from sealbridge.demo.company import DemoSeal
    from sealbridge.demo.console import Console
    from sealbridge.demo.journey import Journey
    from sealbridge.demo.platform import CentralPlatform, seal_plans
    from sealbridge.demo.processes import Children

    url, secret = running_agent
    out = io.StringIO()
    seals = {p.role: DemoSeal(p, f"ESID{i:04d}", b"") for i, p in enumerate(seal_plans(COMPANY))}
    platform = CentralPlatform(tmp_path, Children())
    platform.url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    journey = Journey(
        console=Console(out), agent_url=url, secret=secret, portal_origin=PORTAL["top"], platform=platform,
        seals=seals, pin="123456", documents=tmp_path, pdf=make_pdf(COMPANY, USCC), ofd=make_ofd(COMPANY, USCC),
    )  # fmt: skip
    assert await journey.run() is False
    await platform.close()
    text = out.getvalue()
    assert "Connect to the agent" in text and "OK   符合预期" in text  # connecting works
    assert "seals missing on the token" in text
    assert len(journey.failures) >= 8 and text.count("FAIL") == len(journey.failures)
