"""Text from pikepdf, fit to show a person, from any input.

Error messages: qpdf prefixes its messages with the name of what it read; for an in-memory document pikepdf names the Python
object ("stream <_io.BytesIO object at 0x7f…>: root of pages tree has no /Kids array"), which means nothing
to a reader and differs on every run. The reason after it is kept.
"""

from __future__ import annotations

import re

_OBJECT_NAME = re.compile(r"(?:stream )?<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def pdf_error_text(exc: BaseException) -> str:
    text = _OBJECT_NAME.sub("", str(exc)).strip()
    return text or type(exc).__name__


def object_text(value: object) -> str:
    """A PDF name or string as text. pikepdf decodes a name's bytes as UTF-8 and raises on others; such a name
    is shown with its bytes as Latin-1 (it then matches nothing known, and the caller says so)."""
    try:
        return str(value)
    except (UnicodeDecodeError, ValueError):
        unparse = getattr(value, "unparse", None)
        return bytes(unparse()).decode("latin-1") if unparse else "?"
