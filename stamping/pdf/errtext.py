"""pikepdf's error text, fit to show a person.

qpdf prefixes its messages with the name of what it read; for an in-memory document pikepdf names the Python
object ("stream <_io.BytesIO object at 0x7f…>: root of pages tree has no /Kids array"), which means nothing
to a reader and differs on every run. The reason after it is kept.
"""

from __future__ import annotations

import re

_OBJECT_NAME = re.compile(r"(?:stream )?<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def pdf_error_text(exc: BaseException) -> str:
    text = _OBJECT_NAME.sub("", str(exc)).strip()
    return text or type(exc).__name__
