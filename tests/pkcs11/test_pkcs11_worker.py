"""The per-token worker: 20 concurrent sign calls on one SoftHSM2 token, the event loop never blocked."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from agent.tokens import pkcs11 as driver
from agent.tokens.worker import TokenWorkers
from formats.errors import SealBridgeError
from tests.support.softhsm import PIN


@pytest.fixture(scope="module")
def rsa_token(softhsm):
    label = softhsm.make_token(("rsa",), seals=False)
    yield driver.open_token(label, None, [softhsm.module])
    softhsm.delete_token(label)


def _verify(cert_der: bytes, sig: bytes, data: bytes) -> None:
    cx509.load_der_x509_certificate(cert_der).public_key().verify(
        sig, data, padding.PKCS1v15(), hashes.SHA256()
    )


async def test_twenty_concurrent_signs_on_one_token(rsa_token):
    workers = TokenWorkers()
    threads: set[str] = set()

    def sign_on_token(signer, data: bytes) -> bytes:
        threads.add(threading.current_thread().name)
        return signer.sign(data)

    try:
        signer = await workers.run(rsa_token.token_id, rsa_token.signer, PIN)
        docs = [f"document {i}".encode() * 200 for i in range(20)]
        sigs = await asyncio.gather(
            *[workers.run(rsa_token.token_id, sign_on_token, signer, d) for d in docs]
        )
        for doc, sig in zip(docs, sigs, strict=True):
            _verify(signer.certificate, sig, doc)
        assert len(threads) == 1 and next(iter(threads)).startswith("token-pkcs11")
        # 20 concurrent complete flows (log in with the PIN, sign) on the same token also all succeed.
        flows = await asyncio.gather(
            *[workers.run(rsa_token.token_id, lambda d=d: rsa_token.signer(PIN).sign(d)) for d in docs]
        )
        for doc, sig in zip(docs, flows, strict=True):
            _verify(signer.certificate, sig, doc)
        _verify(signer.certificate, await workers.run(rsa_token.token_id, signer.sign, docs[0]), docs[0])
    finally:
        workers.shutdown()


async def test_a_token_call_never_blocks_the_event_loop(rsa_token):
    """A sign call that waits inside the token thread until the event loop releases it: if the call ran on
    the loop (or blocked it), nothing could release it and the call would fail its wait."""
    workers = TokenWorkers()
    entered, release = threading.Event(), threading.Event()

    def sign_when_released(signer, data: bytes) -> bytes:
        entered.set()
        if not release.wait(10):
            raise AssertionError("the event loop never ran while the token call was in progress")
        return signer.sign(data)

    try:
        signer = await workers.run(rsa_token.token_id, rsa_token.signer, PIN)
        call = asyncio.ensure_future(workers.run(rsa_token.token_id, sign_when_released, signer, b"doc"))
        assert await asyncio.to_thread(entered.wait, 10), "the token call did not start"
        assert not call.done()
        release.set()  # only the running event loop can get here while the call waits
        _verify(signer.certificate, await asyncio.wait_for(call, 10), b"doc")
    finally:
        release.set()
        workers.shutdown()


async def test_worker_serialises_per_token_and_propagates_errors():
    workers = TokenWorkers()
    active = 0
    overlap = False
    lock = threading.Lock()

    def job(i: int) -> int:
        nonlocal active, overlap
        with lock:
            active += 1
            overlap |= active > 1
        time.sleep(0.01)
        with lock:
            active -= 1
        return i

    def fail() -> None:
        raise SealBridgeError("TOKEN_ABSENT", "pulled out")

    try:
        results = await asyncio.gather(*[workers.run("pkcs11:a", job, i) for i in range(10)])
        assert results == list(range(10)) and not overlap
        # Two tokens run in parallel: a two-party barrier only opens if both workers are in it at once.
        barrier = threading.Barrier(2, timeout=5)
        assert sorted(
            await asyncio.gather(workers.run("x", barrier.wait), workers.run("y", barrier.wait))
        ) == [0, 1]
        with pytest.raises(SealBridgeError) as exc:
            await workers.run("pkcs11:a", fail)
        assert exc.value.code == "TOKEN_ABSENT"
        assert workers.call("pkcs11:a", job, 7) == 7
        workers.discard("pkcs11:a")
        assert "pkcs11:a" not in workers.token_ids()
    finally:
        workers.shutdown()
    with pytest.raises(RuntimeError):
        await workers.run("pkcs11:a", job, 1)
