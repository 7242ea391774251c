"""The agent's command groups for the `sealbridge` command line. Each group lives in its own module with a
`register()`; the program itself (sealbridge.cli) composes these with the central platform's and the demo's
groups, so nothing here imports `central` or the demo."""

from __future__ import annotations

# Each module defines register(subparsers) and sets `func` (args -> int exit code) on its parsers.
COMMAND_MODULES = [
    "pki",  # dev-pki
    "seal",  # seal inspect
    "token",  # token init/import/list/change-pin
    "seals",  # seals list
    "stamp",  # stamp
    "verify",  # verify
    "agent_cmd",  # agent, pair, native-host
    "audit",  # audit verify/export
]
