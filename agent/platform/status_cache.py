"""Signed status answers kept on disk exactly as received, one file per esID, so a verified answer can stand
in while the platform cannot be reached — within the grace period, and re-verified when loaded (a file edited
on disk is refused by the envelope check)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from formats.errors import SealBridgeError
from stamping.fileout import atomic_write
from stamping.platform_status import parse_platform_time


class StatusCache:
    def __init__(self, directory: Path | None, grace_seconds: float) -> None:
        self.directory = directory
        self.grace_seconds = grace_seconds
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, esid: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / (hashlib.sha256(esid.encode()).hexdigest() + ".json")

    def store(self, esid: str, envelope: Any) -> None:
        path = self._path(esid)
        if path is not None:
            atomic_write(path, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))

    def load(self, esid: str) -> Any | None:
        """The stored envelope (unverified), or None when there is none or it cannot be read."""
        path = self._path(esid)
        if path is None or not path.exists():
            return None
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None

    def check_age(self, response: dict[str, Any], cause: SealBridgeError) -> None:
        """Refuse a verified cached answer older than the grace period (the platform stays unreachable)."""
        age = time.time() - parse_platform_time(response["produced_at"]).timestamp()
        if age > self.grace_seconds:
            raise SealBridgeError(
                "PLATFORM_UNREACHABLE",
                f"{cause.detail}; the cached status is {int(age)} s old (grace {int(self.grace_seconds)} s)",
            )
