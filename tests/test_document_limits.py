"""The document limits live in formats/limits.py; the extension cannot import Python, so its copies (a
content script is not an ES module, hence two) are compared with that one place here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import Limits
from formats.limits import MAX_DOCUMENT_BYTES, MAX_PAGES, MAX_PLACEMENTS

REPO = Path(__file__).resolve().parent.parent


def js_constant(path: Path, name: str) -> int:
    """The value of `const NAME = <product of integers>;` in a JS file."""
    match = re.search(rf"\bconst {name} = ([0-9 *]+);", path.read_text(encoding="utf-8"))
    assert match, f"{name} not found in {path}"
    value = 1
    for factor in match.group(1).split("*"):
        value *= int(factor.strip())
    return value


@pytest.mark.parametrize("source", ["extension/common/chunks.js", "extension/content/bridge.js"])
def test_the_extension_refuses_what_the_agent_refuses(source: str) -> None:
    assert js_constant(REPO / source, "MAX_DOC_BYTES") == MAX_DOCUMENT_BYTES


def test_the_extension_chunks_fit_the_agent_frames() -> None:
    assert js_constant(REPO / "extension/common/chunks.js", "CHUNK_BYTES") <= Limits().max_chunk_bytes


def test_the_agent_defaults_are_the_document_limits() -> None:
    limits = Limits()
    assert (limits.max_document_bytes, limits.max_pages, limits.max_placements) == (
        MAX_DOCUMENT_BYTES,
        MAX_PAGES,
        MAX_PLACEMENTS,
    )
