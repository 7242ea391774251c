"""Driver-table entry for soft tokens (`soft:PATH`): a PIN-encrypted file, for development only."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SoftDriver:
    kind = "soft"
    spec = "soft:PATH"

    def parse_location(self, rest: str) -> tuple[str, str | None]:
        return rest, None

    def open(self, location: str, key_id: str | None, sources: tuple[Any, ...]) -> Any:
        from agent.tokens.soft import SoftToken

        return SoftToken(Path(location))

    def list(self, sources: tuple[Any, ...]) -> list[Any]:
        from agent.tokens.soft import SoftToken

        return [SoftToken(Path(p)) for p in sources]

    def monitor(self, sources: tuple[Any, ...], workers: Any) -> None:
        return None  # a file is not plugged in; the agent lists only the soft tokens that exist


DRIVER = SoftDriver()
