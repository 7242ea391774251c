"""Bounds on what an OFD package may contain, so a hostile file cannot exhaust memory or disk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on one OFD package (entries, sizes, ratios, XML shape); the agent's per-connection protocol
    limits are agent.config.Limits."""

    max_entries: int = 10_000
    max_total_uncompressed: int = 1 << 30  # 1 GiB over all entries
    max_ratio: float = 200.0  # uncompressed / compressed, per entry
    #: Entries smaller than this are not ratio-checked: a few KB of repetitive XML compresses beyond 200:1
    #: legitimately and cannot exhaust anything.
    ratio_min_size: int = 1 << 20
    max_xml_bytes: int = 64 << 20  # one XML part
    max_xml_depth: int = 200
    max_xml_elements: int = 2_000_000


DEFAULT_PACKAGE_LIMITS = PackageLimits()
