"""The frame hook the tests give every agent.client.AgentClient (tests/conftest.py): each text frame sent or
received is checked against docs/protocol.schema.json — the whole message, the request's params, and a
result against the method it answers. A test asserts `not client.frame_errors` at the end."""

from __future__ import annotations

from typing import Any

from agent.server import protocol as proto


def check_frame(direction: str, message: dict[str, Any], method: str | None) -> None:
    proto.validate_message(message)
    if direction == "out" and method:
        proto.validate_def(f"request.{method}", message)
    elif direction == "in" and method and "result" in message:
        proto.validate_def(f"result.{method}", message["result"])
