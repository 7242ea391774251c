"""Hot-plug monitor: polls the PKCS#11 slots and emits `token.inserted` / `token.removed` events.

Why polling and re-initialisation (measured with SoftHSM2 2.6.1 and python-pkcs11 0.10.1):

* C_WaitForSlotEvent is optional and often unimplemented (SoftHSM2: CKR_FUNCTION_NOT_SUPPORTED when blocking,
  CKR_NO_EVENT when not), and where it exists it blocks a thread inside the module; a ≤1 s poll of
  C_GetSlotList/C_GetTokenInfo works everywhere.
* A removal shows up without re-initialisation: after `softhsm2-util --delete-token` the slot stays listed but
  C_GetTokenInfo answers CKR_GENERAL_ERROR (a reader-based module answers CKR_TOKEN_NOT_PRESENT), and signing
  with a key of the deleted token answers CKR_OBJECT_HANDLE_INVALID.
* An insertion does NOT show up: SoftHSM2 reads its token directory only in C_Initialize, so a re-created
  token is invisible until C_Finalize + C_Initialize. The same "stale module after re-insert" bites real
  vendor modules (NexU's bug). So the monitor re-initialises the module on every poll while the module is
  idle (no signer holds a login: re-initialising ends every session of every token of the module), and polls
  without re-initialising while a signer is in use; the insertion is then seen on the first idle poll.
  A removal also drops that token's login, so the next sign answers TOKEN_ABSENT.
  `reinit="never"` suits modules that report insertions by themselves (PC/SC readers).
* A change is reported once it holds for `confirm` consecutive polls (default 2, at 0.5 s: reported within
  about 1 s). softhsm2-util deletes a token file by file, and a poll in the middle of that can see the token
  vanish and, after the next re-initialisation, come back for a moment; a bouncing USB contact does the same.

All PKCS#11 calls of a poll run on the module's worker thread ("module:<path>"); the loop never blocks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from formats.errors import SealBridgeError

from .pkcs11 import ModuleSpec, module_config
from .pkcs11_module import TokenPresence, get_module
from .worker import TokenWorkers, default_workers

log = logging.getLogger(__name__)

Subscriber = Callable[["TokenEvent"], Any] | asyncio.Queue


@dataclass(frozen=True)
class TokenEvent:
    event: str  # "token.inserted" | "token.removed"
    token_id: str  # "pkcs11:<label>"
    label: str
    serial: str
    manufacturer: str
    model: str
    module: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(p: TokenPresence) -> tuple[str, str, str]:
    return (p.module, p.label, p.serial)


class HotplugMonitor:
    def __init__(
        self,
        modules: list[ModuleSpec],
        *,
        interval: float = 0.5,
        confirm: int = 2,
        reinit: str = "idle",
        workers: TokenWorkers | None = None,
        emit_initial: bool = False,
    ) -> None:
        if reinit not in ("idle", "never"):
            raise ValueError("reinit must be 'idle' or 'never'")
        self.paths = [module_config(m).path for m in modules]
        self.interval = min(interval, 1.0)
        self.confirm = max(1, confirm)
        self._history: list[dict[tuple[str, str, str], TokenPresence]] = []
        self._last_error: dict[str, str] = {}
        self.reinit = reinit
        self.workers = workers or default_workers()
        self.emit_initial = emit_initial
        self.present: dict[tuple[str, str, str], TokenPresence] = {}
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self.polls = 0

    # -- subscribers --------------------------------------------------------------------------------------
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """A callback (sync or async) or an asyncio.Queue; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    async def _emit(self, event: TokenEvent) -> None:
        log.info("%s %s (%s)", event.event, event.token_id, event.module)
        for sub in list(self._subscribers):
            try:
                if isinstance(sub, asyncio.Queue):
                    sub.put_nowait(event)
                    continue
                result = sub(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a broken subscriber must not stop the monitor
                log.exception("hot-plug subscriber failed")

    # -- polling ------------------------------------------------------------------------------------------
    def _scan(self) -> list[TokenPresence]:
        """Runs in a worker thread: one snapshot of every module."""
        found: list[TokenPresence] = []
        for path in self.paths:
            module = get_module(path)
            try:
                with module.lock:
                    if self.reinit == "idle" and module.idle():
                        module.reinitialize()
                    tokens = module.present_tokens()
                    module.forget_absent({t.label for t in tokens})  # a token that left takes its login along
            except SealBridgeError as err:
                # Once per distinct error, not every poll: a missing module would flood the log.
                if self._last_error.get(path) != str(err):
                    log.warning("polling %s: %s", path, err)
                self._last_error[path] = str(err)
                continue
            self._last_error.pop(path, None)
            found.extend(tokens)
        return found

    async def poll_once(self) -> list[TokenEvent]:
        snapshot = await self.workers.run(f"module:{'|'.join(self.paths)}", self._scan)
        now = {_key(p): p for p in snapshot}
        self._history = [*self._history, now][-self.confirm :]
        if not self._started:
            stable = dict(now)  # the first snapshot is the baseline
        else:
            stable = {}
            for key in set().union(*self._history, self.present):
                seen = [key in snap for snap in self._history]
                if len(seen) == self.confirm and all(seen):
                    stable[key] = now[key]
                elif key in self.present and not (len(seen) == self.confirm and not any(seen)):
                    stable[key] = self.present[key]  # not settled yet: keep what was reported
        events: list[TokenEvent] = []
        if self._started or self.emit_initial:
            for key in self.present.keys() - stable.keys():
                events.append(_event("token.removed", self.present[key]))
            for key in stable.keys() - self.present.keys():
                events.append(_event("token.inserted", stable[key]))
        self._started = True
        self.present = stable
        self.polls += 1
        for event in events:
            await self._emit(event)
        return events

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hot-plug poll failed")
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        """Take the first snapshot (so `present` is filled), then keep polling in the background."""
        if self._task is None:
            await self.poll_once()
            self._task = asyncio.create_task(self._loop(), name="pkcs11-hotplug")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def tokens(self) -> list[TokenPresence]:
        return list(self.present.values())


def _event(kind: str, p: TokenPresence) -> TokenEvent:
    return TokenEvent(kind, p.token_id, p.label, p.serial, p.manufacturer, p.model, p.module)


__all__ = ["HotplugMonitor", "TokenEvent"]
