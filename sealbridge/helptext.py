"""What `--help` ends with for every command: its exit codes and an example (one table, so none is missed;
tests/agent/test_cli_messages.py checks every command has both)."""

from __future__ import annotations

import argparse

OK_OR_ERROR = "0 done, 2 error (the error object on stdout with --json, else a line on stderr)"

# command path -> (exit codes, example)
HELP: dict[str, tuple[str, str]] = {
    "dev-pki": (OK_OR_ERROR, "sealbridge dev-pki --dir ./dev-pki"),
    "seal": (OK_OR_ERROR, "sealbridge seal inspect seal.esl --picture seal.png"),
    "seal inspect": (OK_OR_ERROR, "sealbridge seal inspect seal.esl --picture seal.png --json"),
    "token": (OK_OR_ERROR, "sealbridge token list --soft company.soft"),
    "token init": (OK_OR_ERROR, "sealbridge token init --soft company.soft --pin-file pin.txt"),
    "token import": (
        OK_OR_ERROR,
        "sealbridge token import --soft company.soft --pin-file pin.txt --p12 signer.p12 "
        "--p12-password-file p12pass.txt",
    ),
    "token list": (OK_OR_ERROR, "sealbridge token list --module /usr/lib/softhsm/libsofthsm2.so --json"),
    "token change-pin": (
        OK_OR_ERROR,
        "sealbridge token change-pin --soft company.soft --pin-file old.txt --new-pin-file new.txt",
    ),
    "seals": (OK_OR_ERROR, "sealbridge seals list --soft company.soft"),
    "seals list": (OK_OR_ERROR, "sealbridge seals list --soft company.soft --json"),
    "seals put": (
        OK_OR_ERROR,
        "sealbridge seals put seal.esl --module /usr/lib/softhsm/libsofthsm2.so --token MyKey --pin-file pin.txt",
    ),
    "stamp": (
        OK_OR_ERROR + "; a failed stamp writes no output file; 143 (SIGTERM) or 129 (SIGHUP) stopped, no "
        "output either",
        "sealbridge stamp form.pdf -o form-stamped.pdf --token soft:company.soft --pin-file pin.txt "
        '--keyword "盖章处"',
    ),
    "verify": (
        "0 valid, 1 invalid, 3 indeterminate or no seals, 2 error (file missing, empty, not PDF/OFD, "
        "bad trust anchor…). Several documents: 2 if any error, else 1 if any invalid, else 3 if any "
        "indeterminate, else 0",
        "sealbridge verify form-stamped.pdf --trust ./trust --platform https://seal-platform.example.gov.cn\n"
        "  sealbridge verify uploads/ --trust ./trust --json --jobs 2",
    ),
    "agent": (OK_OR_ERROR + "; runs until stopped", "sealbridge agent --config ~/.sealbridge/config.toml"),
    "pair": (
        OK_OR_ERROR + " (AGENT_UNAVAILABLE when no agent runs; --offline prints the code anyway)",
        "sealbridge pair",
    ),
    "native-host": (OK_OR_ERROR + "; started by the browser, not by people", "(started by the browser)"),
    "audit": (OK_OR_ERROR, "sealbridge audit verify"),
    "audit verify": (
        "0 the chain is intact, 1 broken (AUDIT_BROKEN), 2 error (unreadable)",
        "sealbridge audit verify --json",
    ),
    "audit export": (OK_OR_ERROR, "sealbridge audit export --json -o audit.json"),
    "audit show-batch": (
        "0 the batch's manifest and every link check, 1 they do not, 2 error",
        "sealbridge audit show-batch BATCH_ID --json",
    ),
    "evidence": (
        "0 every check passed, 1 a check failed, 2 error",
        "sealbridge evidence check evidence.pdf --platform https://seal-platform.example.gov.cn",
    ),
    "evidence check": (
        "0 every check passed (platform seal, attachments, pages, original's hash), 1 a check failed, "
        "2 error (file missing, not a PDF, bad trust anchor…)",
        "sealbridge evidence check evidence.pdf --document contract.pdf --trust ./trust",
    ),
    "central": (OK_OR_ERROR + "; runs until stopped", "sealbridge central --db central.sqlite3 --port 8443"),
    "central admin": (OK_OR_ERROR, "sealbridge central admin seals --db central.sqlite3"),
    "central audit": (OK_OR_ERROR, "sealbridge central audit verify --db central.sqlite3"),
    "demo": (
        "0 every journey step passed (--once), 1 a step failed, 2 error, 130 stopped",
        "sealbridge demo --allow-site http://localhost:8080",
    ),
}


def _default(path: str) -> tuple[str, str] | None:
    """Sub-commands of `central admin` / `central audit`: the same codes, an example with their name."""
    for group in ("central admin", "central audit"):
        if path.startswith(group + " "):
            return OK_OR_ERROR, f"sealbridge {path} --db central.sqlite3 --help"
    return None


def epilog(path: str) -> str | None:
    found = HELP.get(path) or _default(path)
    if found is None:
        return None
    codes, example = found
    if "130" not in codes:
        codes += ", 130 interrupted (Ctrl-C)"
    codes += ", 141 output closed (| head)"
    return f"退出码 exit codes: {codes}\n示例 example:\n  {example}"


def add_epilogs(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    """Give every (sub)command its epilog; returns the command paths that have none (for the test)."""
    missing: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            full = " ".join((*path, name))
            text = epilog(full)
            if text is None:
                missing.append(full)
            else:
                sub.epilog = text
                sub.formatter_class = argparse.RawDescriptionHelpFormatter
            missing += add_epilogs(sub, (*path, name))
    return missing
