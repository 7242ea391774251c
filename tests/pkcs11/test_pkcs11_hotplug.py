"""Hot-plug with real SoftHSM2: deleting a token = pulling the USB key out, re-creating it = plugging it in."""

from __future__ import annotations

import asyncio

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from agent.tokens import pkcs11 as driver
from agent.tokens.hotplug import HotplugMonitor, TokenEvent
from agent.tokens.pkcs11_module import get_module
from agent.tokens.worker import TokenWorkers
from formats.errors import SealBridgeError
from tests.support.softhsm import PIN

DATA = b"hot-plug test document bytes" * 100


def _verify(cert_der: bytes, sig: bytes) -> None:
    public = cx509.load_der_x509_certificate(cert_der).public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(sig, DATA, ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(sig, DATA, padding.PKCS1v15(), hashes.SHA256())


class Events:
    """Every event the monitor emitted, in order; waits for one without dropping the others."""

    def __init__(self) -> None:
        self.seen: list[TokenEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, event: TokenEvent) -> None:
        self.seen.append(event)
        self.changed.set()

    def count(self, kind: str, label: str) -> int:
        return sum(1 for e in self.seen if e.event == kind and e.label == label)

    async def wait(self, kind: str, label: str, nth: int = 1) -> TokenEvent:
        async with asyncio.timeout(8):
            while self.count(kind, label) < nth:
                self.changed.clear()
                await self.changed.wait()
        return [e for e in self.seen if e.event == kind and e.label == label][nth - 1]


@pytest.fixture
async def monitor(softhsm):
    workers = TokenWorkers()
    mon = HotplugMonitor([softhsm.module], interval=0.2, workers=workers)
    events = Events()
    mon.subscribe(events)
    await mon.start()
    yield mon, events, workers
    await mon.stop()
    workers.shutdown()


async def test_removal_and_reinsertion(softhsm, monitor):
    mon, events, workers = monitor
    label = await asyncio.to_thread(softhsm.make_token, ("rsa",), True, PIN, None, False)
    inserted = await events.wait("token.inserted", label)
    assert inserted.token_id == f"pkcs11:{label}" and inserted.manufacturer == "SoftHSM project"
    assert inserted.to_dict()["event"] == "token.inserted"

    token = driver.open_token(label, None, [softhsm.module])
    signer = await workers.run(token.token_id, token.signer, PIN)
    _verify(signer.certificate, await workers.run(token.token_id, signer.sign, DATA))

    # Pull the key out while a signer is live: the monitor must see it without re-initialising the module.
    await asyncio.to_thread(softhsm.delete_token, label)
    removed = await events.wait("token.removed", label)
    assert removed.serial == inserted.serial
    with pytest.raises(SealBridgeError) as exc:
        await workers.run(token.token_id, signer.sign, DATA)
    assert exc.value.code == "TOKEN_ABSENT"
    with pytest.raises(SealBridgeError) as exc:
        await workers.run(token.token_id, token.signer, PIN)
    assert exc.value.code == "TOKEN_ABSENT"
    assert all(p.label != label for p in mon.tokens())

    # Plug it back in (same label, new serial): the monitor re-initialises the idle module and sees it.
    await asyncio.to_thread(softhsm.make_token, ("rsa",), True, PIN, label, False)
    again = await events.wait("token.inserted", label, 2)
    assert again.token_id == inserted.token_id  # SoftHSM2 may even give the new token the same serial
    token = driver.open_token(label, None, [softhsm.module])
    with await workers.run(token.token_id, token.signer, PIN) as signer2:
        _verify(signer2.certificate, await workers.run(token.token_id, signer2.sign, DATA))
    await asyncio.to_thread(softhsm.delete_token, label)
    await events.wait("token.removed", label)


async def test_two_tokens_at_once(softhsm, monitor):
    mon, events, workers = monitor
    a = await asyncio.to_thread(softhsm.make_token, ("rsa",), False, PIN, None, False)
    b = await asyncio.to_thread(softhsm.make_token, ("ecdsa",), False, PIN, None, False)
    await events.wait("token.inserted", a)
    await events.wait("token.inserted", b)
    ta = driver.open_token(a, None, [softhsm.module])
    tb = driver.open_token(b, None, [softhsm.module])
    sa = await workers.run(ta.token_id, ta.signer, PIN)
    sb = await workers.run(tb.token_id, tb.signer, PIN)
    sigs = await asyncio.gather(
        *[workers.run(ta.token_id, sa.sign, DATA) for _ in range(3)],
        *[workers.run(tb.token_id, sb.sign, DATA) for _ in range(3)],
    )
    for sig in sigs[:3]:
        _verify(sa.certificate, sig)
    for sig in sigs[3:]:
        _verify(sb.certificate, sig)

    # Removing A leaves B's login untouched: B keeps signing without a new PIN.
    await asyncio.to_thread(softhsm.delete_token, a)
    await events.wait("token.removed", a)
    await asyncio.sleep(0.5)  # a few more polls while B's signer is live
    _verify(sb.certificate, await workers.run(tb.token_id, sb.sign, DATA))
    with pytest.raises(SealBridgeError) as exc:
        await workers.run(ta.token_id, sa.sign, DATA)
    assert exc.value.code == "TOKEN_ABSENT"
    assert {p.label for p in mon.tokens()} >= {b}

    # Once B's signer is closed the module is idle again and a re-inserted A is found.
    await workers.run(tb.token_id, sb.close)
    await asyncio.to_thread(softhsm.make_token, ("rsa",), False, PIN, a, False)
    await events.wait("token.inserted", a, 2)
    await asyncio.to_thread(softhsm.delete_token, a)
    await events.wait("token.removed", a, 2)
    await asyncio.to_thread(softhsm.delete_token, b)
    await events.wait("token.removed", b)


async def test_queue_sync_and_async_subscribers(softhsm):
    workers = TokenWorkers()
    mon = HotplugMonitor([softhsm.module], interval=0.2, workers=workers)
    queue: asyncio.Queue = asyncio.Queue()
    seen_sync = Events()
    seen_async: list[TokenEvent] = []

    async def async_cb(event: TokenEvent) -> None:
        seen_async.append(event)

    def broken(event: TokenEvent) -> None:
        raise RuntimeError("a subscriber bug must not stop the monitor")

    mon.subscribe(broken)
    mon.subscribe(queue)
    mon.subscribe(seen_sync)
    unsubscribe = mon.subscribe(async_cb)
    await mon.start()
    try:
        label = await asyncio.to_thread(softhsm.make_token, ("ecdsa",), False, PIN, None, False)
        await seen_sync.wait("token.inserted", label)
        assert any(e.label == label and e.event == "token.inserted" for e in seen_async)
        queued = [queue.get_nowait() for _ in range(queue.qsize())]
        assert any(e.label == label and e.event == "token.inserted" for e in queued)
        unsubscribe()
        await asyncio.to_thread(softhsm.delete_token, label)
        await seen_sync.wait("token.removed", label)
        assert not any(e.event == "token.removed" and e.label == label for e in seen_async)
        assert mon.polls >= 2
    finally:
        await mon.stop()
        workers.shutdown()


async def test_module_is_reinitialised_only_when_idle(softhsm):
    label = softhsm.make_token(("rsa",), seals=False)
    module = get_module(softhsm.module)
    token = driver.Pkcs11Token(softhsm.module, label)
    workers = TokenWorkers()
    mon = HotplugMonitor([softhsm.module], interval=0.2, workers=workers)
    try:
        await mon.poll_once()
        generation = module.generation
        signer = token.signer(PIN)
        for _ in range(3):
            await mon.poll_once()
        assert module.generation == generation  # a live login is never broken by a poll
        _verify(signer.certificate, signer.sign(DATA))
        del signer  # dropping the last signer logs out; the next poll may re-initialise again
        await mon.poll_once()
        assert module.generation == generation + 1
    finally:
        workers.shutdown()
        softhsm.delete_token(label)


async def test_a_broken_module_does_not_stop_the_others(softhsm, tmp_path):
    label = softhsm.make_token(("ecdsa",), seals=False)
    workers = TokenWorkers()
    mon = HotplugMonitor([str(tmp_path / "missing.so"), softhsm.module], interval=0.2, workers=workers)
    try:
        await mon.poll_once()
        await mon.poll_once()
        assert label in {p.label for p in mon.tokens()}
    finally:
        workers.shutdown()
        softhsm.delete_token(label)
