"""Who talks to a test agent: the extension origins it allows, the portal a call comes from, a free port."""

from __future__ import annotations

from devkit.ports import free_port

__all__ = ["EXT", "OTHER_EXT", "PORTAL", "free_port"]

EXT = "chrome-extension://" + "abcdefghijklmnop" * 2
OTHER_EXT = "chrome-extension://" + "ponmlkjihgfedcba" * 2
PORTAL = {"top": "https://portal.example.cn", "frame": "https://portal.example.cn"}
