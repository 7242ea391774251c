"""Every report the verifiers produce validates against the published JSON schema of report v2
(docs/report-v2.schema.json): all shared OFD samples (valid, tampered, indeterminate, no seals, signatures
without seals, riding seams) and stamped PDFs (see tests/pdf and tests/central for those)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from stamping.ofd import verify

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "docs" / "report-v2.schema.json").read_text(encoding="utf-8"))
SAMPLES = REPO.parent / "shared" / "samples" / "ofd"


def validate(report: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(report)


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.ofd")))
def test_sample_reports_validate(name: str):
    report = verify((SAMPLES / name).read_bytes()).to_dict()
    validate(report)
    assert report["report_version"] == 2
    json.dumps(report, allow_nan=False)  # JSON-safe throughout


def test_the_schema_rejects_a_v1_report():
    v1 = {"format": "ofd", "verdict": "valid", "seals": []}
    with pytest.raises(jsonschema.ValidationError):
        validate(v1)
