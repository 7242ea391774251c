"""Hashing jobs shared by a verification's worker threads, run in the order they were posted.

One queue serves the whole file's digests and the package entries, so a worker that finishes its share
takes the next job instead of idling beside a thread with a long queue of its own, and the caller, rather
than wait, runs what is still queued itself. OpenSSL's hashes and zlib release the GIL: the workers (WORKERS)
and the caller at the end keep the cores busy, as long as the workers get the GIL back promptly between
jobs while the caller runs Python (stamping.gilhandoff, while any worker runs). A worker ends when
the queue is empty and posting starts one again, so no thread outlives its work.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from stamping import gilhandoff

T = TypeVar("T")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except AttributeError:  # not on Windows or macOS
        return os.cpu_count() or 2


#: Worker threads per queue. The caller hashes too once it waits (HashJobs.wait), so on two CPUs one worker
#: keeps both busy: with two, three hashing threads and the caller's Python took turns on two cores, and a
#: 10-seal 100 MB OFD took 1.33x one SM3 pass instead of 1.26x (best of 16, interleaved, load 1.6-1.9).
#: More than two would only hold more inflated chunks in memory at once.
WORKERS = 1 if _cpus() <= 2 else 2


class Job(Generic[T]):
    """One unit of work; run exactly once, by a worker or by whoever waits for it."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as a Future does
            self._error = exc
        finally:
            self._done.set()

    def outcome(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set whenever no error was recorded


class HashJobs:
    def __init__(self, workers: int, name: str = "ofd-hash") -> None:
        self._workers = workers
        self._name = name
        self._queue: deque[Job[object]] = deque()
        self._lock = threading.Lock()
        self._running = 0

    def post(self, fn: Callable[[], T]) -> Job[T]:
        job: Job[T] = Job(fn)
        with self._lock:
            self._queue.append(job)  # type: ignore[arg-type]  # the queue only runs them
            start = self._running < self._workers
            self._running += start
        if start:
            gilhandoff.begin()  # the worker's end() is in _work
            try:
                threading.Thread(target=self._work, name=self._name).start()
            except BaseException:
                with self._lock:
                    self._running -= 1
                gilhandoff.end()
                raise
        return job

    def _take(self) -> Job[object] | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._running -= 1
                        return
                    job = self._queue.popleft()
                job.run()
        finally:
            gilhandoff.end()

    def wait(self, job: Job[T]) -> T:
        """`job`'s result (or its exception), running queued jobs on this thread meanwhile."""
        while not job._done.is_set() and (other := self._take()) is not None:
            other.run()
        return job.outcome()

    def cancel(self) -> None:
        """Drop what is still queued (the verification gave up; nobody will wait for it)."""
        with self._lock:
            self._queue.clear()
