"""One worker thread per token: token calls run one at a time, and the event loop never blocks on them.

`await run(token_id, fn, *args)` queues `fn(*args)` on the token's own thread and awaits the result (or the
exception) without blocking the loop. Calls for one token run in submission order; different tokens run in
parallel (PKCS#11 calls into one module are additionally serialised by that module's lock).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class TokenWorkers:
    def __init__(self) -> None:
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

    def executor(self, token_id: str) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("token workers are shut down")
            pool = self._executors.get(token_id)
            if pool is None:
                safe = "".join(c if c.isalnum() else "_" for c in token_id)[:40]
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"token-{safe}")
                self._executors[token_id] = pool
            return pool

    async def run(self, token_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs) if (args or kwargs) else fn
        return await loop.run_in_executor(self.executor(token_id), call)

    def call(self, token_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """The same serialisation from synchronous code (CLI): blocks the calling thread."""
        return self.executor(token_id).submit(fn, *args, **kwargs).result()

    def token_ids(self) -> list[str]:
        with self._lock:
            return list(self._executors)

    def discard(self, token_id: str) -> None:
        """Stop the token's thread after its queued calls (e.g. the token was removed)."""
        with self._lock:
            pool = self._executors.pop(token_id, None)
        if pool is not None:
            pool.shutdown(wait=False)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            pools, self._executors = list(self._executors.values()), {}
            self._closed = True
        for pool in pools:
            pool.shutdown(wait=wait)


_default = TokenWorkers()


def default_workers() -> TokenWorkers:
    return _default


async def run(token_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` on the token's worker thread of the process-wide pool."""
    return await _default.run(token_id, fn, *args, **kwargs)
