"""Driver-table entry for PKCS#11 tokens (`pkcs11:LABEL[/CKA_ID]`), through agent.tokens.pkcs11."""

from __future__ import annotations

import re
from typing import Any

from formats.errors import SealBridgeError

_HEX = re.compile(r"^[0-9a-fA-F]+$")


class Pkcs11Driver:
    kind = "pkcs11"
    spec = "pkcs11:LABEL[/CKA_ID]"

    def parse_location(self, rest: str) -> tuple[str, str | None]:
        label, sep, key_id = rest.rpartition("/")
        if not sep:
            return rest, None
        if not label or not key_id or not _HEX.match(key_id) or len(key_id) % 2:
            raise SealBridgeError("BAD_REQUEST", f"token spec pkcs11:{rest!r}: CKA_ID must be hex")
        return label, key_id.lower()

    def open(self, location: str, key_id: str | None, sources: tuple[Any, ...]) -> Any:
        from agent.tokens.pkcs11 import open_token

        return open_token(location, key_id, list(sources))

    def list(self, sources: tuple[Any, ...]) -> list[Any]:
        from agent.tokens.pkcs11 import list_tokens

        return list(list_tokens(list(sources)))

    def monitor(self, sources: tuple[Any, ...], workers: Any) -> Any:
        from agent.tokens.hotplug import HotplugMonitor

        return HotplugMonitor(list(sources), workers=workers)


DRIVER = Pkcs11Driver()
