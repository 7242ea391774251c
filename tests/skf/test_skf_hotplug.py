"""Hot-plug of SKF keys: removing the device directory = pulling the key, re-creating it = plugging it in.
The monitor is driven poll by poll (no timing); the agent runs the same polls on a timer."""

from __future__ import annotations

import shutil

from agent.tokens.drivers import TokenSources, monitors, open_token
from agent.tokens.skf_hotplug import SkfHotplugMonitor
from agent.tokens.softskf_store import DEVICE
from agent.tokens.worker import TokenWorkers
from formats.gm import cert_public_key


async def test_removal_and_reinsertion_are_reported_and_signing_works_again(softskf_lib, skf_home, tmp_path):
    workers = TokenWorkers()
    sources = TokenSources.of(skf=[softskf_lib])
    [monitor] = monitors(sources, workers)
    assert isinstance(monitor, SkfHotplugMonitor)
    seen = []
    monitor.subscribe(seen.append)
    try:
        await monitor.poll_once()
        assert [p.token_id for p in monitor.tokens()] == [f"skf:{DEVICE}"] and seen == []
        saved = tmp_path / "saved"
        shutil.copytree(skf_home / DEVICE, saved)
        shutil.rmtree(skf_home / DEVICE)
        events = await monitor.poll_once() + await monitor.poll_once()
        assert [(e.event, e.token_id) for e in events] == [("token.removed", f"skf:{DEVICE}")]
        shutil.copytree(saved, skf_home / DEVICE)
        events = await monitor.poll_once() + await monitor.poll_once()
        assert [(e.event, e.token_id) for e in events] == [("token.inserted", f"skf:{DEVICE}")]
        assert events[0].serial.startswith("SSKF-") and events[0].manufacturer == "SealBridge"
        assert [e.event for e in seen] == ["token.removed", "token.inserted"]
    finally:
        await monitor.stop()
        workers.shutdown()
    signer = open_token(f"skf:{DEVICE}", sources).signer("123456")
    assert cert_public_key(signer.certificate).verify(b"after", signer.sign(b"after"), backend="gmssl")
    signer.close()


async def test_a_broken_library_does_not_stop_the_monitor(tmp_path):
    workers = TokenWorkers()
    monitor = SkfHotplugMonitor([str(tmp_path / "missing.so")], workers=workers)
    try:
        assert await monitor.poll_once() == [] and monitor.tokens() == []
    finally:
        workers.shutdown()
