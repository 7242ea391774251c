"""The stamp prepared while the token unlocks.

After `approve` the token's login (for the soft token a memory-hard KDF, for a card the PIN check) and the
stamp's own work (parsing, layout, appearance, hashing the document) need nothing from each other until
the one signature at the end. So the stamp starts as the login starts, on another thread, with a signer
that knows the key's certificate (readable without a PIN) and whose sign() waits for the login, then
signs on the token's own thread. A wrong PIN or a cancel fails that wait: the prepared stamp is thrown
away and no signature is made. Nothing is signed before the user approved and the token unlocked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from agent.tokens.base import KeyInfo
from formats.errors import SealBridgeError

T = TypeVar("T")
OnToken = Callable[..., Any]  # run fn(*args) on the token's thread, blocking the caller


# Early stamps wait inside sign() for their login, so they get threads of their own: in the default pool
# they could hold every thread while the loop needs one (the audit log) to let their logins finish.
_THREADS: ThreadPoolExecutor | None = None
_THREADS_LOCK = threading.Lock()
MAX_EARLY_STAMPS = 4  # at once; more wait for a thread (each holds its document's output in memory)


def _threads() -> ThreadPoolExecutor:
    global _THREADS
    with _THREADS_LOCK:
        if _THREADS is None:
            _THREADS = ThreadPoolExecutor(MAX_EARLY_STAMPS, thread_name_prefix="sealbridge-stamp")
        return _THREADS


class LoginDidNotMatch(Exception):
    """The logged-in signer is not the key the stamp was prepared for (another chain or algorithm)."""


class DeferredSigner:
    """A stamping.signer.Signer for a key whose login is still running."""

    def __init__(self, key: KeyInfo, on_token: OnToken):
        self.certificate: bytes = bytes(key.certificate or b"")
        self.chain: list[bytes] = [bytes(c) for c in key.chain]
        self.algorithm = key.algorithm
        self.on_token = on_token
        self._ready: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def matches(self, signer: Any) -> bool:
        return (
            bytes(signer.certificate) == self.certificate
            and [bytes(c) for c in signer.chain] == self.chain
            and signer.algorithm == self.algorithm
        )

    def resolve(self, signer: Any) -> None:
        self._ready.set_result(signer)

    def fail(self, exc: BaseException) -> None:
        if not self._ready.done():
            self._ready.set_exception(exc)

    def wait_logged_in(self) -> Any:
        """Block until the login ended: the logged-in signer, or the login's error raised (a wrong PIN, a
        cancel, the token pulled out). Only sign() needs it; callers may use it to act after the login."""
        return self._ready.result()

    def sign(self, data: bytes, digest: str = "sha256") -> bytes:
        return self.on_token(self.wait_logged_in().sign, data, digest)


class EarlyStamp:
    """`run(signer)` started in a worker thread before the login ends; `finish` or `abandon` it."""

    def __init__(self, key: KeyInfo, on_token: OnToken, run: Callable[[Any], T]):
        self.signer = DeferredSigner(key, on_token)
        loop = asyncio.get_running_loop()
        self.task: asyncio.Future[T] = loop.run_in_executor(_threads(), run, self.signer)
        self.task.add_done_callback(_retrieve)

    async def finish(self, signer: Any) -> tuple[bool, Any]:
        """(True, what run returned) once it signed with the logged-in `signer`; (False, None) when that
        signer is not the key prepared for, and the caller stamps again with it."""
        if not self.signer.matches(signer):
            await self.abandon(LoginDidNotMatch())
            return False, None
        self.signer.resolve(signer)
        return True, await self.task

    async def abandon(self, why: BaseException | None = None) -> None:
        """Make its signature impossible and wait until it stopped (it stops at sign() at the latest)."""
        self.signer.fail(why or SealBridgeError("USER_CANCELLED", "the stamp was not approved"))
        with contextlib.suppress(Exception):
            await asyncio.shield(self.task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
