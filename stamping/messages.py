"""The one zh/en message catalogue of verification reports (report_messages.json) and its renderer.

Every check result, reason, warning and headline of a report is a code with parameters; this module turns
them into sentences. The extension renders the same codes from a byte-identical copy of the catalogue
(extension/common/report-messages.json) with the same template rules (extension/common/report-text.js):
`{name}` a parameter, `{name|time}` a time in Beijing time, `{name|ENUM}` a value looked up in
`enums.ENUM`; lists are joined; a missing parameter shows as "—", never as None.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Literal

Lang = Literal["zh", "en"]
CATALOGUE_PATH = Path(__file__).with_name("report_messages.json")
BEIJING = timezone(timedelta(hours=8))
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\|(\w+))?\}")
_MISSING = "—"
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$")


@cache
def catalogue() -> dict[str, Any]:
    return json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def codes() -> dict[str, dict[str, str]]:
    return catalogue()["codes"]


def sub_indication_of(code: str) -> str | None:
    entry = codes().get(code)
    return entry.get("sub_indication") if entry else None


def beijing_time(value: str | datetime | None) -> str:
    """ "2026-12-06 09:31:23 (UTC+8)" for an aware time or an ISO 8601 text (naive means UTC)."""
    if value is None or value == "":
        return _MISSING
    if isinstance(value, datetime):
        when = value
    else:
        # The same grammar as the extension's beijingTime(): anything else is shown as written (V1 seals
        # carry producers' free text), never guessed at.
        if not _ISO_TIME.match(str(value)):
            return str(value)
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+8)"


def enum_text(enum: str, value: Any, lang: Lang) -> str:
    entry = catalogue()["enums"].get(enum, {}).get(str(value))
    return entry[lang] if entry else (_MISSING if value is None else str(value))


def render(code: str, params: dict[str, Any] | None = None, lang: Lang = "zh") -> str:
    """The sentence for a code; an unknown code shows as itself (a test keeps every emitted code known)."""
    entry = codes().get(code)
    if entry is None:
        return code
    params = params or {}

    def fill(m: re.Match[str]) -> str:
        return _value(m.group(1), params.get(m.group(1)), m.group(2), lang)

    return _PLACEHOLDER.sub(fill, entry[lang])


def render_reason(reason: dict[str, Any], lang: Lang = "zh") -> str:
    """A reason as it appears in JSON: {"code": …, **params}."""
    return render(str(reason.get("code")), {k: v for k, v in reason.items() if k != "code"}, lang)


def _value(name: str, value: Any, kind: str | None, lang: Lang) -> str:
    if value is None or value == "":
        return _MISSING
    if isinstance(value, dict) and "code" in value:
        return render_reason(value, lang)
    if isinstance(value, list):
        sep = " → " if name == "chain" else ("、" if lang == "zh" else ", ")
        return sep.join(_value(name, v, kind, lang) for v in value) or _MISSING
    if kind == "time":
        return beijing_time(value)
    if kind:
        return enum_text(kind, value, lang)
    return str(value)
