"""Hostile documents sent to the platform's public /api/v1/verify: HTTP 4xx or a report, memory bounded."""

from __future__ import annotations

from pathlib import Path

from tests.support.central import http, make_cert, register_seal
from tests.support.hostile import deep_trailer, ofd_zip_bomb, stamped_pdf
from tests.support.usage import signed_usage

MIB = 1 << 20


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_verify_zip_bomb_bounded(central, samples):
    url, _, handle = central
    code, body = http("POST", f"{url}/api/v1/verify", raw=ofd_zip_bomb(samples))
    if code == 200:
        assert body["extra"].get("document_error"), body
    else:
        assert code == 400 and body["error"]["code"] in ("DOC_MALFORMED", "DOC_TOO_LARGE"), body
    peak = _peak_rss(handle.proc.pid)
    assert peak < 600 * MIB, f"the platform peaked at {peak / MIB:.0f} MiB"


def test_verify_deep_nesting_is_400(central, dev_pki, tmp_path):
    url, _, _ = central
    deep = deep_trailer(stamped_pdf(dev_pki, tmp_path))
    code, body = http("POST", f"{url}/api/v1/verify", raw=deep)
    assert code == 400 and body["error"]["code"] == "DOC_MALFORMED", (code, body)


def _audit_count(url: str, token: str, esid: str) -> int:
    code, audit = http("GET", f"{url}/api/v1/admin/audit?subject={esid}", token=token)
    assert code == 200, audit
    return sum(1 for r in audit["records"] if r["action"].startswith("seal.use."))


def test_forged_usage_is_refused_and_never_audited(central):
    """Art. 24: usage records are evidence. Unsigned, invented-esID, wrong-key, not-allowed and altered
    records are refused (401/403) and none reaches the audit chain; the agent's signed record is taken."""
    url, token, _ = central
    key, cert = make_cert("签章人")
    other_key, other_cert = make_cert("冒充者")
    esid = register_seal(url, token, cert)["esID"]
    good = signed_usage(key, cert, esid, doc_sm3_after="ab" * 32)
    unsigned = {k: v for k, v in good.items() if k not in ("cert", "cert_sha256", "sig_alg", "signature")}
    forged = [
        (401, "UNAUTHENTICATED", unsigned),
        (403, "FORBIDDEN", signed_usage(key, cert, "ES-INVENTED-0001")),
        (403, "FORBIDDEN", signed_usage(other_key, other_cert, esid)),  # a key that may not use the seal
        (403, "FORBIDDEN", dict(good, doc_sm3_after="cd" * 32)),  # altered after signing
        (403, "FORBIDDEN", dict(good, signature=signed_usage(other_key, other_cert, esid)["signature"])),
    ]
    for status, code, rec in forged:
        answer_status, answer = http("POST", f"{url}/api/v1/usage", {"records": [rec]})
        assert (answer_status, answer["error"]["code"]) == (status, code), (rec, answer)
        # One bad record refuses the whole request: its good neighbour is not stored either.
        answer_status, _ = http("POST", f"{url}/api/v1/usage", {"records": [good, rec]})
        assert answer_status == status
    assert _audit_count(url, token, esid) == 0
    answer_status, answer = http("POST", f"{url}/api/v1/usage", {"records": [good]})
    assert answer_status == 200 and answer["accepted"] == [good["id"]]
    assert _audit_count(url, token, esid) == 1
