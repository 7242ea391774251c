"""Shared fixtures: paths to the shared samples, a session-wide dev PKI."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

# A run started in the background of a non-interactive shell (`make test &`, some CI runners) inherits
# SIGINT ignored, and so would every process the tests start: the tests of what Ctrl-C does would then see
# nothing happen. They test the product as a terminal runs it, so the run starts from Python's own handler
# (and its children from the default).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "samples"


@pytest.fixture
def termination_signals_at_default():
    """SIGTERM and SIGHUP at their default action for the test (what a terminal gives a command; a run under
    `nohup` inherits SIGHUP ignored, and the product rightly leaves an ignored signal alone), put back as
    they were afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    for s in saved:
        signal.signal(s, signal.SIG_DFL)
    yield
    for s, action in saved.items():
        signal.signal(s, action)


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"shared samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def seals_dir(samples: Path) -> Path:
    return samples / "seals"


@pytest.fixture(scope="session")
def dev_pki(tmp_path_factory: pytest.TempPathFactory):
    """A complete dev PKI (roots, signers, maker, seals, soft tokens, PIN file) made once per test session.
    Tests that change a token (lock it, change its PIN) must work on a copy."""
    from agent.devpki import make_dev_pki

    return make_dev_pki(tmp_path_factory.mktemp("devpki") / "pki")


@pytest.fixture(autouse=True)
def _protocol_schema_on_every_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AgentClient a test opens checks each frame against the protocol schema (the product client
    with the tests' hook; see tests/support/protocol_schema.py)."""
    from agent.client import AgentClient
    from tests.support.protocol_schema import check_frame

    monkeypatch.setattr(AgentClient, "default_frame_hook", staticmethod(check_frame))
