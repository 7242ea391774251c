"""Protocol fuzzing (seeded, so failures reproduce): mutated requests never crash a call (no INTERNAL), every
answer still matches the schema, and the connection survives."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from agent.client import AgentClient
from tests.support.agent_env import EXT, PORTAL

DOC = {"id": "a" * 32, "size": 100}
VALID: list[tuple[str, dict[str, Any]]] = [
    ("hello", {"client": "fuzz", "protocol": 1}),
    ("seals.list", {"origin": PORTAL}),
    ("stamp", {"origin": PORTAL, "document": DOC, "placements": [{"type": "at", "page": 1, "x": 1, "y": 2}]}),
    ("verify", {"origin": PORTAL, "document": DOC}),
    ("preview", {"request_id": "b" * 32, "pages": [1]}),
    ("cancel", {"request_id": "c" * 32}),
    ("approve", {"request_id": "d" * 32, "seal_id": "x", "pin": "123456"}),
    ("tokens.list", {}),
    ("token.changePin", {"token_id": "soft:/nowhere", "old_pin": "1", "new_pin": "2"}),
    ("audit.recent", {"limit": 3}),
]
ODD_VALUES = [
    None,
    True,
    -1,
    0,
    2**63,
    1.5e308,
    "",
    "x" * 5000,
    "盖章",
    [],
    {},
    [1, "a"],
    {"k": "v"},
    "a" * 32,
]


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, (*prefix, i))
    return out


def mutate(rng: random.Random, msg: dict[str, Any]) -> dict[str, Any]:
    msg = copy.deepcopy(msg)
    target = rng.choice([p for p in paths(msg) if p])
    parent = msg
    for key in target[:-1]:
        parent = parent[key]
    last = target[-1]
    action = rng.randrange(3)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(["extra", "pin", "__proto__", "constructor", "path"])] = rng.choice(ODD_VALUES)
    else:
        parent[last] = rng.choice(ODD_VALUES)
    return msg


async def test_mutated_requests_never_crash(agent):
    rng = random.Random(20260517)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    for n in range(400):
        method, params = rng.choice(VALID)
        msg = mutate(rng, {"jsonrpc": "2.0", "id": 10_000 + n, "method": method, "params": params})
        await c.ws.send(json.dumps(msg))
        if n % 50 == 49:
            assert (await c.call("hello", {}))["agent"] == "sealbridge"
    assert (await c.call("hello", {}))["agent"] == "sealbridge"

    def answers() -> list[dict]:
        return [m for m in c.received if "method" not in m]

    # Every frame gets exactly one answer (auth, 400 mutated requests, 9 hellos): wait for all of them.
    await c.wait_for(lambda: answers() if len(answers()) >= 410 else None, 30, "an answer to every frame")
    assert len(answers()) == 410
    errors = [m["error"]["data"]["code"] for m in c.received if "error" in m]
    assert len(errors) > 300
    assert "INTERNAL" not in errors
    assert not c.frame_errors
    assert not c.closed.is_set()
    await c.close()


async def test_random_binary_frames_never_crash(agent):
    rng = random.Random(7)
    c = await AgentClient.authed(agent.url, EXT, agent.secret)
    for _ in range(200):
        size = rng.choice([0, 1, 24, 25, 26, 100, 5000])
        frame = bytes(rng.randrange(256) for _ in range(size))
        if size >= 4 and rng.random() < 0.5:
            frame = b"SB\x01\x01" + frame[4:]
        await c.ws.send(frame)
    assert (await c.call("hello", {}))["agent"] == "sealbridge"
    assert not c.frame_errors and not c.closed.is_set()
    await c.close()
