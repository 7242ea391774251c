"""stamping.gilhandoff: hashing workers lower the switch interval while they run, and it comes back after,
however their lifetimes overlap; the OFD hashing queue and the document copy use it."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from formats.dochash import new_hash
from stamping import gilhandoff
from stamping.copyhash import HashingCopy
from stamping.ofd.hashjobs import HashJobs

DEFAULT = 0.005


@pytest.fixture(autouse=True)
def known_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(DEFAULT)
    yield
    sys.setswitchinterval(before)


def test_overlapping_users_restore_the_interval_once_the_last_ends() -> None:
    gilhandoff.begin()
    assert sys.getswitchinterval() == pytest.approx(gilhandoff.PROMPT_INTERVAL)
    with gilhandoff.prompt_handoffs():
        assert sys.getswitchinterval() == pytest.approx(gilhandoff.PROMPT_INTERVAL)
    assert sys.getswitchinterval() == pytest.approx(gilhandoff.PROMPT_INTERVAL)  # the first still runs
    gilhandoff.end()
    assert sys.getswitchinterval() == pytest.approx(DEFAULT)


def test_a_lower_interval_set_by_the_caller_is_kept() -> None:
    sys.setswitchinterval(0.0001)
    with gilhandoff.prompt_handoffs():
        assert sys.getswitchinterval() == pytest.approx(0.0001)
    assert sys.getswitchinterval() == pytest.approx(0.0001)


def test_a_value_somebody_else_set_meanwhile_is_not_overwritten() -> None:
    with gilhandoff.prompt_handoffs():
        sys.setswitchinterval(0.002)
    assert sys.getswitchinterval() == pytest.approx(0.002)


def test_hash_workers_hand_off_promptly_only_while_they_run() -> None:
    jobs = HashJobs(2)
    release = threading.Event()
    seen: list[float] = []

    def blocked() -> bytes:
        seen.append(sys.getswitchinterval())
        release.wait(timeout=60)
        return new_hash("sm3", b"abc").digest()

    first = jobs.post(blocked)
    second = jobs.post(blocked)
    third = jobs.post(lambda: new_hash("sha256", b"abc").digest())
    release.set()
    assert (
        jobs.wait(first)
        == jobs.wait(second)
        == bytes.fromhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    )
    assert jobs.wait(third).hex().startswith("ba7816bf")
    assert seen and all(v == pytest.approx(gilhandoff.PROMPT_INTERVAL) for v in seen)
    _wait_for_workers_to_end(jobs)
    assert sys.getswitchinterval() == pytest.approx(DEFAULT)


def test_the_document_copy_hands_off_promptly_while_it_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(100_000)
    seen: list[float] = []

    class Out(io.BytesIO):
        def write(self, b) -> int:  # type: ignore[no-untyped-def]
            seen.append(sys.getswitchinterval())
            return super().write(b)

    out = Out()
    states = HashingCopy(data, out, ["sm3"]).start().result()
    assert out.getvalue() == data and states["sm3"].digest() == new_hash("sm3", data).digest()
    assert seen and all(v == pytest.approx(gilhandoff.PROMPT_INTERVAL) for v in seen)
    assert sys.getswitchinterval() == pytest.approx(DEFAULT)
    HashingCopy(data, Out(), ["sm3"]).run()  # on the caller's thread: nothing to hand off to
    assert seen[-1] == pytest.approx(DEFAULT)


def _wait_for_workers_to_end(jobs: HashJobs) -> None:
    for thread in threading.enumerate():
        if thread.name == jobs._name:
            thread.join(timeout=60)
