"""`sealbridge verify --lang zh|en`: the human report in one language, Beijing time, names, no None."""

from __future__ import annotations

import re

from agent.cli.verify import locale_language
from sealbridge.cli import main

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _lines(capsys, args: list[str]) -> tuple[int, list[str]]:
    rc = main(args)
    return rc, capsys.readouterr().out.splitlines()


def test_chinese_report_of_the_tampered_invoice(ofd_samples, capsys):
    rc, lines = _lines(
        capsys, ["verify", str(ofd_samples / "gomain-invoice-v4-tampered.ofd"), "--lang", "zh"]
    )
    assert rc == 1
    assert lines[0] == "文档在盖章后被修改"
    assert "    文档完整性：未通过 — 文件 /Doc_0/Document.xml 在盖章后被改动" in lines
    assert "  签章人：全国统一发票监制章国家税务总局重庆市税务局 · 融易算电子发票服务平台" in lines
    assert any(line.startswith("  盖章时间：2020-10-10 15:11:20 (UTC+8)") for line in lines), lines
    text = "\n".join(lines)
    assert "None" not in text and "Common Name" not in text and "+00:00" not in text
    # Every line with words says them in Chinese (hashes, IDs and algorithm names aside).
    for line in lines:
        words = re.findall(r"[A-Za-z]{4,}", line)
        assert not words or _CJK.search(line), line


def test_english_report_and_exit_codes_keep_their_meaning(ofd_samples, capsys):
    rc, lines = _lines(capsys, ["verify", str(ofd_samples / "gomain-jiangsu-invoice-v4.ofd"), "--lang", "en"])
    assert rc == 3
    assert lines[0].startswith("Cannot be fully confirmed (No trust anchors are configured")
    assert "  Seal type: Branch seal" in lines
    assert not any(
        _CJK.search(line) for line in lines if line.strip().startswith(("Checks", "Document integrity"))
    )


def test_the_default_language_follows_the_locale():
    assert locale_language({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert locale_language({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert locale_language({}) == "en"
