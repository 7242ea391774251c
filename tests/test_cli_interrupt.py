"""Ctrl-C stops a command with one line and exit code 130, never a traceback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devkit.documents import one_page_pdf

REPO = Path(__file__).resolve().parents[1]


def test_ctrl_c_while_a_command_waits_is_exit_130_and_one_line(tmp_path: Path) -> None:
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(one_page_pdf(1))
    fifo = tmp_path / "anchors.pem"
    os.mkfifo(fifo)  # `verify` reading its trust anchors from it waits for a writer, then for data: busy
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sealbridge", "verify", str(doc), "--json", "--trust", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    writer = None
    try:
        # Opening the FIFO to write succeeds only once the command has it open to read: then it is inside
        # the command, about to read.
        deadline = time.monotonic() + 60
        while writer is None:
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENXIO and proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
        # And waits in the read itself. Ctrl-C a moment earlier, between the open and the read (both inside
        # io's C code, where Python looks at signals only after the call), is only acted on once the read
        # returns: a CPython race, not what this checks.
        while "pipe" not in Path(f"/proc/{proc.pid}/wchan").read_text():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if writer is not None:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and "已中断 interrupted" in err.decode()
    assert out == b""
