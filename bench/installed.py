"""What an installation of a source tree has before its first run, made for the benchmarks' runs of it.

An installed SealBridge is byte-compiled, with its dataclass methods compiled too (the Debian package build,
`make venv`); a source tree used where PYTHONDONTWRITEBYTECODE is set has neither, and every process
would compile them again, which is not what a user's processes do."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
from pathlib import Path

PACKAGES = ("agent", "formats", "stamping", "sealbridge", "devkit")


def prepare(tree: Path) -> None:
    for package in PACKAGES:
        if (tree / package).is_dir():
            compileall.compile_dir(tree / package, quiet=1)
    # A tree from before agent/cli/dataclass_code.py has no such step: its runs compile them, as they did.
    if (tree / "agent" / "cli" / "dataclass_code.py").is_file():
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run([sys.executable, "-m", "agent.cli.dataclass_code"], env=env, check=True, cwd=tree)
