"""The agent's command groups for the `sealbridge` command line. Each group lives in its own module with a
`register()`; the program itself (sealbridge.cli) composes these with the central platform's and the demo's
groups, so nothing here imports `central` or the demo."""

from __future__ import annotations

# command name -> the module (in this package) whose register(subparsers) adds it and sets `func`
# (args -> int exit code). The program imports only the module of the command it runs, so a command's
# start-up never pays for the libraries of the others (tests/test_cli_start.py keeps this table true).
COMMANDS: dict[str, str] = {
    "dev-pki": "pki",
    "seal": "seal",
    "token": "token",
    "seals": "seals",
    "stamp": "stamp",
    "verify": "verify",
    "evidence": "evidence",
    "agent": "agent_cmd",
    "pair": "agent_cmd",
    "native-host": "agent_cmd",
    "audit": "audit",
}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))
