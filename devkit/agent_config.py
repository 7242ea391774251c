"""The configuration of an agent that tests and benchmarks run in-process: everything under one home
directory, a free loopback port, one extension allowed, the given site policy and soft tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from devkit.ports import free_port


def agent_config(
    home: Path, soft_tokens: Iterable[Path], *, extension: str, site_policy: dict[str, str], **overrides: Any
) -> AgentConfig:
    """An AgentConfig with data/ and run/ under `home`; `overrides` replace any other field."""
    cfg = AgentConfig(
        home=home,
        data_dir=home / "data",
        runtime_dir=home / "run",
        port=free_port(),
        allowed_origins=[extension],
        site_policy=site_policy,
        soft_tokens=[str(p) for p in soft_tokens],
    )
    return replace(cfg, **overrides)
