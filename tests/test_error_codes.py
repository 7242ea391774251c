"""Error codes: one enum with groups (formats/errors.py), both languages for each, and the page SDK's
TypeScript list (extension/sdk/sealbridge.d.ts) equal to it plus the codes only the SDK raises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from formats.errors import MESSAGES, ErrorCode, ErrorGroup, SealBridgeError, group_of

REPO = Path(__file__).resolve().parent.parent
SDK_ONLY = {"EXTENSION_NOT_FOUND", "TIMEOUT"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def sdk_codes() -> set[str]:
    text = (REPO / "extension/sdk/sealbridge.d.ts").read_text(encoding="utf-8")
    match = re.search(r"export type ErrorCode =(.*?)\(string & \{\}\);", text, re.S)
    assert match, "ErrorCode union not found in sealbridge.d.ts"
    body = "\n".join(line.split("//")[0] for line in match.group(1).splitlines())
    return set(re.findall(r'"([A-Z][A-Z_]*)"', body))


def test_the_sdk_lists_every_code_and_only_those() -> None:
    codes = sdk_codes()
    assert not SDK_ONLY & set(ErrorCode), "an SDK-only code is also an agent code"
    assert codes - SDK_ONLY == set(ErrorCode), {
        "missing in sealbridge.d.ts": sorted(set(ErrorCode) - codes),
        "unknown to formats/errors.py": sorted(codes - SDK_ONLY - set(ErrorCode)),
    }


@pytest.mark.parametrize("code", sorted(ErrorCode))
def test_each_code_has_a_group_and_both_languages(code: str) -> None:
    zh, en = MESSAGES[code]
    assert isinstance(group_of(code), ErrorGroup)
    assert CJK.search(zh) and en and not CJK.search(en)


def test_a_code_is_its_string_and_unknown_codes_are_refused() -> None:
    err = SealBridgeError("SEAL_REVOKED", "revoked at the platform")
    assert err.code == "SEAL_REVOKED" and err.code is ErrorCode.SEAL_REVOKED
    assert err.group is ErrorGroup.PLATFORM and err.to_dict()["code"] == "SEAL_REVOKED"
    with pytest.raises(ValueError):
        SealBridgeError("NO_SUCH_CODE")
