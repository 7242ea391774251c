"""Handlers swapped for a block come back whatever signal arrives while they are installed or restored, and
signals held during pdfium's callbacks are all delivered. Signals are sent to this process at exact points
(right after one handler is installed or restored) by wrapping signal.signal."""

from __future__ import annotations

import io
import os
import signal

import pytest

from agent.cli.common import Terminated, ended_by_signals
from stamping.pdf.keywords import find_keyword
from stamping.signalswap import handlers_swapped
from tests.support.pdf_maker import PageSpec, make_pdf

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stop(Exception):
    """What the test's own handlers raise."""


def _stop(num: int, _frame: object) -> None:
    raise Stop(num)


@pytest.fixture
def own_handlers():
    """The test's own raising handlers for every signal involved, the originals put back afterwards."""
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _stop)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def _send_when(monkeypatch, condition) -> None:  # type: ignore[no-untyped-def]
    """Send the signal condition(signum, handler) names (or none) right after each signal.signal call."""
    real = signal.signal

    def signal_then_send(signum, handler):  # type: ignore[no-untyped-def]
        old = real(signum, handler)
        send = condition(signum, handler)
        if send is not None:
            os.kill(os.getpid(), send)
        return old

    monkeypatch.setattr(signal, "signal", signal_then_send)


@pytest.mark.parametrize("moment", ["installing", "restoring"])
def test_handlers_come_back_when_a_signal_interrupts_the_swap(own_handlers, monkeypatch, moment) -> None:
    """SIGHUP while its own handler (raising Stop) is in force: after SIGINT's was swapped in (installing),
    or right after SIGHUP's was put back and before the others are (restoring)."""

    def replacement(num, _frame):  # type: ignore[no-untyped-def]
        raise AssertionError("no signal is sent while the replacement is in force")

    sent: list[int] = []

    def condition(signum, handler):  # type: ignore[no-untyped-def]
        if sent:
            return None
        if moment == "installing" and signum == signal.SIGINT and handler is replacement:
            sent.append(signal.SIGHUP)
        if moment == "restoring" and signum == signal.SIGHUP and handler is _stop:
            sent.append(signal.SIGHUP)
        return sent[0] if sent else None

    _send_when(monkeypatch, condition)
    with pytest.raises(Stop):  # the caller's handler ran: the signal reached it
        with handlers_swapped(("SIGINT", "SIGTERM", "SIGHUP"), lambda _n, _h: replacement):
            assert moment == "restoring", "installing: the signal ends the swap before the block"
    monkeypatch.undo()
    assert sent == [signal.SIGHUP]
    assert all(signal.getsignal(s) is _stop for s in SIGNALS)


def test_ended_by_signals_restores_when_interrupted_while_installing(
    termination_signals_at_default, monkeypatch
) -> None:
    def condition(signum, handler):  # type: ignore[no-untyped-def]
        from agent.cli.common import _raise_terminated

        return signal.SIGTERM if signum == signal.SIGTERM and handler is _raise_terminated else None

    _send_when(monkeypatch, condition)
    with pytest.raises(Terminated), ended_by_signals():
        pass  # not reached: SIGTERM comes while SIGHUP is still to be installed
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


@pytest.fixture(scope="module")
def document() -> bytes:
    return make_pdf([PageSpec(lines=[(72, 700, "盖章处")]) for _ in range(3)])


def test_a_signal_while_the_search_installs_its_holders_is_delivered(document, monkeypatch) -> None:
    """Ctrl-C right after the search swapped in its first holder: delivered once, never a KeyError, and
    the default handler back."""

    def condition(signum, handler):  # type: ignore[no-untyped-def]
        held = handler is not signal.default_int_handler and callable(handler) and signum == signal.SIGINT
        return signal.SIGINT if held else None

    _send_when(monkeypatch, condition)
    with pytest.raises(KeyboardInterrupt):
        find_keyword(io.BytesIO(document), "盖章处")
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_every_signal_held_during_the_search_is_delivered(document, monkeypatch) -> None:
    """Handlers that do not raise (a caller counting signals): each signal held meanwhile reaches its own."""
    counted: list[int] = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGINT)}
    for s in saved:
        signal.signal(s, lambda num, _frame: counted.append(num))

    class SendsTwo(io.BytesIO):
        sent = False

        def readinto(self, b):  # type: ignore[no-untyped-def]
            if not self.sent:
                self.sent = True
                os.kill(os.getpid(), signal.SIGHUP)
                os.kill(os.getpid(), signal.SIGINT)
            return super().readinto(b)

    try:
        find_keyword(SendsTwo(document), "盖章处")
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert sorted(counted) == sorted([signal.SIGHUP, signal.SIGINT])
