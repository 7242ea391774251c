"""The one zh/en catalogue of report codes: complete for every code the verifiers can emit, natural in both
languages, byte-identical in the extension, and rendered the same by Python and by the extension's JS."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stamping.messages import CATALOGUE_PATH, beijing_time, catalogue, render, render_reason

REPO = Path(__file__).resolve().parents[1]
EXTENSION_COPY = REPO / "extension" / "common" / "report-messages.json"
# Every module that builds checks, reasons or warnings of a report.
EMITTERS = [
    *sorted((REPO / "stamping").rglob("*.py")),
    *sorted((REPO / "agent" / "platform").glob("*.py")),
    REPO / "agent" / "server" / "methods" / "verify.py",
    REPO / "agent" / "cli" / "verify.py",
    REPO / "central" / "verify_service.py",
]
_MAKERS = {"ok", "failed", "unknown", "reason", "Reason", "also", "_unsupported", "_crypto_check"}
_CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _constants(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body, assigned) + _constants(node.orelse, assigned)
    if isinstance(node, ast.Name):
        return [c for value in assigned.get(node.id, []) for c in _constants(value, assigned)]
    return []


def emitted_codes() -> dict[str, str]:
    """code → file, for every string (or name bound to strings) passed as the code of Check.ok/failed/unknown,
    reason(), Reason(), Check.also() or _unsupported()."""
    found: dict[str, str] = {}
    for path in EMITTERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            assigned: dict[str, list[ast.AST]] = {}
            for node in ast.walk(func):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)
            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if name not in _MAKERS:
                    continue
                for arg in node.args[:2]:
                    for value in _constants(arg, assigned):
                        if _CODE.match(value):
                            found.setdefault(value, str(path.relative_to(REPO)))
    return found


def test_the_scanner_finds_codes_from_every_kind_of_call():
    codes = emitted_codes()
    # a literal, a conditional, a name bound earlier, a reason() in a list, a code passed to _unsupported
    for code in (
        "REFS_MATCH",
        "SEAL_OK_TIME_UNKNOWN",
        "TS_TSA_INVALID",
        "CERT_EXPIRED_NOW",
        "FIELD_NOT_IN_ACROFORM",
    ):
        assert code in codes, code
    assert len(codes) > 60


def test_every_emitted_code_has_chinese_and_english():
    known = catalogue()["codes"]
    missing = {code: where for code, where in emitted_codes().items() if code not in known}
    assert not missing, missing
    for code, entry in known.items():
        assert entry["zh"] and entry["en"], code
        assert _CJK.search(entry["zh"]), f"{code}: the Chinese text has no Chinese in it"
        assert "None" not in entry["zh"] + entry["en"], code
        fields = lambda text: sorted(re.findall(r"\{(\w+)(?:\|\w+)?\}", text))  # noqa: E731
        assert fields(entry["zh"]) == fields(entry["en"]), code


def test_every_catalogue_reason_is_emitted_somewhere():
    """No dead entries: what the catalogue explains, a verifier can say (headlines come from report.py)."""
    emitted = set(emitted_codes())
    dead = [c for c, e in catalogue()["codes"].items() if e["kind"] == "reason" and c not in emitted]
    assert not dead, dead


def test_every_enum_value_and_seal_type_has_both_languages():
    from formats.ses.kinds import SealKind

    enums = catalogue()["enums"]
    for name, values in enums.items():
        for value, entry in values.items():
            assert entry["zh"] and entry["en"], (name, value)
    for kind in SealKind:
        assert enums["seal_type"][str(kind.code)] == {"zh": kind.label_zh, "en": kind.label_en}


def test_the_extension_copy_is_identical():
    assert EXTENSION_COPY.read_bytes() == CATALOGUE_PATH.read_bytes()


def test_rendering_never_shows_none_and_times_are_beijing_time():
    assert render("CERT_EXPIRED_NOW", {"valid_to": None}, "zh") == "签章人证书已于 — 过期（盖章时有效）"
    assert beijing_time("2026-12-06T01:31:23+00:00") == "2026-12-06 09:31:23 (UTC+8)"
    assert (
        render("CERT_CHAIN_OK", {"chain": ["张三", "测试CA"]}, "zh")
        == "证书链可信，盖章时有效：张三 → 测试CA"
    )
    nested = {"code": "HEADLINE_INDETERMINATE", "reason": {"code": "PLATFORM_UNREACHABLE", "error_code": "X"}}
    assert render_reason(nested, "zh") == "无法完全确认（暂时无法连接印章平台（X），请稍后再试）"


CASES = [
    {
        "code": "SEAL_EXPIRED_AT_SIGNING",
        "signed_at": "2026-08-04T02:08:09+00:00",
        "valid_to": "2022-04-22T02:09:00+00:00",
    },
    {"code": "PLATFORM_NOT_ACTIVE_AT_SIGNING", "at": "2026-12-06T01:31:23.123456Z", "at_status": "revoked"},
    {"code": "FILES_NOT_PROTECTED", "files": ["/Doc_0/a.xml", "/Doc_0/b.xml"]},
    {"code": "CERT_CHAIN_OK", "chain": ["张三", "根"]},
    {"code": "REF_DIGEST_MISMATCH", "file": "/Doc_0/Document.xml"},
    {"code": "HEADLINE_INDETERMINATE", "reason": {"code": "NO_TRUST_ANCHORS"}},
    {"code": "SEAL_REVOKED_AFTER_SIGNING", "since": None},
    {"code": "UNSIGNED_CHANGES_AFTER", "revisions": 2},
    {"code": "NO_SUCH_CODE"},
]
TIMES = [
    "2026-12-06T01:31:23+00:00",
    "2026-12-05T20:00:00-05:30",
    "2026-12-06 01:31:23",
    "20200817111329Z",
    None,
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_python_and_the_extension_render_the_same():
    script = f"""
import {{ createRenderer, beijingTime }} from "{(REPO / "extension/common/report-text.js").as_posix()}";
import {{ readFileSync }} from "node:fs";
const r = createRenderer(JSON.parse(readFileSync("{EXTENSION_COPY.as_posix()}", "utf8")));
const cases = {json.dumps(CASES, ensure_ascii=False)};
const times = {json.dumps(TIMES)};
console.log(JSON.stringify({{
  zh: cases.map((c) => r.reasonText(c, "zh")), en: cases.map((c) => r.reasonText(c, "en")),
  times: times.map((t) => beijingTime(t)),
}}));
"""
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    js = json.loads(out.stdout)
    assert js["zh"] == [render_reason(c, "zh") for c in CASES]
    assert js["en"] == [render_reason(c, "en") for c in CASES]
    assert js["times"] == [beijing_time(t) for t in TIMES]


def test_the_documented_etsi_mapping_is_the_catalogue():
    doc = (REPO / "docs" / "verification.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([A-Z_]+) \|", doc, re.M))
    wanted = {c: e["sub_indication"] for c, e in catalogue()["codes"].items() if "sub_indication" in e}
    assert rows == wanted
