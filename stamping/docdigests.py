"""The report's SM3 and SHA-256 of the whole document, with nothing heavier than OpenSSL's hashes loaded.

A fresh `sealbridge verify` process starts them on threads as soon as the file is read and imports the
verifier meanwhile: each hash is one update over the whole buffer (formats.dochash), which releases the
GIL until it is done, so the imports cost no wall time beside them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from formats.dochash import new_hash


def sm3_hex(data: bytes) -> str:
    return new_hash("sm3", data).hexdigest()


def sha256_hex(data: bytes) -> str:
    return new_hash("sha256", data).hexdigest()


def document_digests(data: bytes) -> tuple[str, str]:
    """(SM3 hex, SHA-256 hex) of the document bytes."""
    return sm3_hex(data), sha256_hex(data)


def document_digests_later(data: bytes) -> Callable[[], tuple[str, str]]:
    """document_digests(data), started now on two threads; call the result for the pair (it waits)."""
    results: dict[str, str] = {}

    def run(key: str, fn: Callable[[bytes], str]) -> None:
        results[key] = fn(data)

    threads = [
        threading.Thread(target=run, args=(key, fn), name=f"document-{key}", daemon=True)
        for key, fn in (("sm3", sm3_hex), ("sha256", sha256_hex))
    ]
    for t in threads:
        t.start()

    def wait() -> tuple[str, str]:
        for t in threads:
            t.join()
        if len(results) != 2:  # a thread failed (out of memory?): hash here, where an error is reported
            return document_digests(data)
        return results["sm3"], results["sha256"]

    return wait
