"""Driver-table entry for SKF (GM/T 0016) USB keys (`skf:DEVICE[/APPLICATION/CONTAINER]`)."""

from __future__ import annotations

from typing import Any


class SkfDriver:
    kind = "skf"
    spec = "skf:DEVICE[/APPLICATION/CONTAINER]"

    def parse_location(self, rest: str) -> tuple[str, str | None]:
        from agent.tokens.skf import parse_location

        return parse_location(rest)

    def open(self, location: str, key_id: str | None, sources: tuple[Any, ...]) -> Any:
        from agent.tokens.skf import open_token

        return open_token(location, key_id, list(sources))

    def list(self, sources: tuple[Any, ...]) -> list[Any]:
        from agent.tokens.skf import list_tokens

        return list(list_tokens(list(sources)))

    def monitor(self, sources: tuple[Any, ...], workers: Any) -> Any:
        from agent.tokens.skf_hotplug import SkfHotplugMonitor

        return SkfHotplugMonitor(list(sources), workers=workers)


DRIVER = SkfDriver()
