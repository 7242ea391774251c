"""Who talks to a test agent: the extension origins it allows, the portal a call comes from, a free port;
and the configuration of such an agent (devkit.agent_config, with these origins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from devkit.agent_config import agent_config
from devkit.ports import free_port

__all__ = ["EXT", "OTHER_EXT", "PORTAL", "free_port", "make_config"]

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
OTHER_EXT = "chrome-extension://" + "ponmlkjihgfedcba" * 2
PORTAL = {"top": "https://portal.example.cn", "frame": "https://portal.example.cn"}


def make_config(home: Path, soft_tokens: list[Path], **overrides: Any) -> AgentConfig:
    """A test agent's configuration: EXT allowed, PORTAL allowed and one denied site; see devkit.agent_config."""
    policy = {PORTAL["top"]: "allowed", "https://denied.example": "denied"}
    return agent_config(home, soft_tokens, extension=EXT, site_policy=policy, **overrides)
