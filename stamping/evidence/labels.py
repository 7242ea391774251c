"""Chinese and English labels for the evidence report (checks, statuses, verdicts, time sources)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "北京时间")

CHECKS = {
    "integrity": ("文档完整性", "Integrity"),
    "signature": ("签名值", "Signature value"),
    "seal": ("印章结构与制章签名", "Seal structure and maker signature"),
    "signer_in_seal": ("签章人与印章绑定", "Signer bound to the seal"),
    "certificate": ("签章人证书", "Signer certificate"),
    "platform_status": ("平台印章状态", "Platform seal status"),
    "changes_after": ("签章后修改", "Changes after signing"),
    "timestamp": ("时间戳", "Time-stamp"),
}
STATUS = {"ok": ("通过", "ok"), "failed": ("未通过", "failed"), "unknown": ("无法确定", "unknown")}
VERDICTS = {
    "valid": ("有效", "valid"),
    "invalid": ("无效", "invalid"),
    "indeterminate": ("无法确定", "indeterminate"),
    "no_seals": ("未发现印章", "no seals"),
}
TIME_SOURCES = {
    "tsa": ("时间戳服务证明的时间", "proven by a time-stamp authority"),
    "claimed": ("签章人自述的时间（未经证明）", "claimed by the signer (unproven)"),
}


def pair(table: dict[str, tuple[str, str]], key: str | None) -> str:
    zh, en = table.get(key or "", (key or "—", key or "—"))
    return f"{zh} / {en}"


def beijing(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S 北京时间 (UTC+08:00)")
