"""Fixtures for the agent tests: a dev PKI with real soft tokens, and a real agent on a free loopback port."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.server.app import create_app, make_context, start_sites
from agent.server.context import AgentContext
from tests.support.agent_env import make_config


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agent.devpki import make_dev_pki

    return make_dev_pki(tmp_path_factory.mktemp("agent-pki") / "pki")


@pytest.fixture
def soft_token(dev_pki: Any, tmp_path: Path) -> Path:
    """A private copy of the SM2 soft token (tests lock it, remove it, change its PIN)."""
    dest = tmp_path / "tokens" / "sm2.soft"
    dest.parent.mkdir()
    shutil.copy2(dev_pki.tokens["sm2"], dest)
    return dest


@dataclass
class RunningAgent:
    ctx: AgentContext
    cfg: AgentConfig
    port: int
    runner: Any

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1"

    @property
    def secret(self) -> bytes:
        return self.ctx.secret


@pytest.fixture
async def agent_factory(tmp_path: Path, soft_token: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[RunningAgent] = []

    async def start(platform: Any = None, require_platform: bool = False, **overrides: Any) -> RunningAgent:
        cfg = make_config(tmp_path / f"home{len(started)}", [soft_token], **overrides)
        ctx = make_context(cfg, platform=platform, require_platform=require_platform)
        app = create_app(ctx, cfg.port)
        runner = await start_sites(app, cfg, cfg.port)
        agent = RunningAgent(ctx, cfg, cfg.port, runner)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        await agent.runner.cleanup()
    await asyncio.sleep(0)


@pytest.fixture
async def agent(agent_factory: Callable[..., Any]) -> RunningAgent:
    return await agent_factory()


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    """A small real two-page PDF made with pikepdf (text on each page)."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for n in (1, 2):
        content = pdf.make_stream(f"BT /F1 14 Tf 72 720 Td (Contract page {n} - seal here) Tj ET".encode())
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 595, 842],
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=content,
            )
        )
        pdf.pages.append(page)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
