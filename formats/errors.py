"""Stable error codes with Chinese and English messages, shared by every layer.

The code is the contract (pages, the CLI and tests match on it); the messages are for people.
`detail` carries the technical cause (a CKR_* name, a parser message) and never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorGroup(StrEnum):
    """Who has to act on an error."""

    USER = "user"
    DOCUMENT = "document"
    TOKEN = "token"
    PLATFORM = "platform"
    INTERNAL = "internal"


# code -> (group, message_zh, message_en). Add a code here (and to the SDK's ErrorCode in
# extension/sdk/sealbridge.d.ts: tests/test_error_codes.py compares them).
_TABLE: dict[str, tuple[ErrorGroup, str, str]] = {
    # the person at the screen: PIN, consent, who may use the agent
    "PIN_INCORRECT": (ErrorGroup.USER, "口令错误", "The PIN is incorrect"),
    "PIN_LOCKED": (
        ErrorGroup.USER,
        "口令已锁定，请联系管理员解锁",
        "The PIN is locked; ask the administrator to unlock it",
    ),
    "PIN_INVALID": (ErrorGroup.USER, "口令不符合要求", "The PIN does not meet the requirements"),
    "PASSWORD_INCORRECT": (
        ErrorGroup.USER,
        "密码错误（密钥文件或证书文件）",
        "The password of the key or PKCS#12 file is incorrect",
    ),
    "USER_CANCELLED": (ErrorGroup.USER, "用户已取消", "Cancelled by the user"),
    "ORIGIN_NOT_ALLOWED": (
        ErrorGroup.USER,
        "该网站未被允许使用电子印章",
        "This site is not allowed to use electronic seals",
    ),
    "UNAUTHENTICATED": (ErrorGroup.USER, "未通过身份认证", "Not authenticated"),
    "FORBIDDEN": (ErrorGroup.USER, "没有权限", "Forbidden"),
    "RATE_LIMITED": (ErrorGroup.USER, "请求过于频繁", "Too many requests"),
    "BUSY": (
        ErrorGroup.USER,
        "已有一个盖章请求等待确认",
        "Another stamping request from this site is already waiting for approval",
    ),
    # what the page sent: the request, the document, the placement
    "BAD_REQUEST": (ErrorGroup.DOCUMENT, "请求格式错误", "The request is malformed"),
    "DOC_TOO_LARGE": (
        ErrorGroup.DOCUMENT,
        "文档超出大小或数量限制",
        "The document exceeds a size or count limit",
    ),
    "DOC_MALFORMED": (ErrorGroup.DOCUMENT, "文档格式错误或已损坏", "The document is malformed or damaged"),
    "DOC_UNSUPPORTED": (ErrorGroup.DOCUMENT, "不支持的文档格式", "Unsupported document format"),
    "DOC_LOCKED": (
        ErrorGroup.DOCUMENT,
        "文档已被锁定，不能再加盖印章",
        "The document is locked by an earlier seal; no further seals can be added",
    ),
    "PLACEMENT_INVALID": (ErrorGroup.DOCUMENT, "盖章位置无效", "The seal placement is invalid"),
    "NOT_FOUND": (ErrorGroup.DOCUMENT, "找不到对象", "Not found"),
    "FILE_NOT_FOUND": (ErrorGroup.DOCUMENT, "找不到文件", "The file does not exist"),
    "DOC_EMPTY": (ErrorGroup.DOCUMENT, "文档为空（0 字节）", "The document is empty (0 bytes)"),
    "DOC_CHANGED": (
        ErrorGroup.DOCUMENT,
        "盖章期间文档被修改，未保存任何结果，请待文档保存完成后重试",
        "The document was modified while it was being stamped; nothing was saved. Try again once it is saved",
    ),
    "TRUST_ANCHOR_INVALID": (
        ErrorGroup.DOCUMENT,
        "信任锚文件不是有效的证书（PEM 或 DER）",
        "The trust anchor file is not a valid certificate (PEM or DER)",
    ),
    "BATCH_NOT_REVIEWED": (
        ErrorGroup.USER,
        "批量盖章中仍有文档未预览，请逐份查看后再确认",
        "Some documents of the batch have not been previewed; look at each one before approving",
    ),
    "BATCH_MANIFEST_INVALID": (
        ErrorGroup.PLATFORM,
        "批量盖章清单校验失败",
        "The batch manifest does not verify",
    ),
    "CONFLICT": (ErrorGroup.DOCUMENT, "状态冲突", "The request conflicts with the current state"),
    # the seal token (USB key), its key, certificate and the seal on it
    "TOKEN_ABSENT": (ErrorGroup.TOKEN, "未检测到印章介质（USB Key）", "No seal token (USB key) is present"),
    "TOKEN_ERROR": (ErrorGroup.TOKEN, "印章介质操作失败", "The seal token reported an error"),
    "TOKEN_NOT_FOUND": (ErrorGroup.TOKEN, "找不到指定的印章介质", "The requested token was not found"),
    "KEY_NOT_FOUND": (
        ErrorGroup.TOKEN,
        "介质中找不到签名密钥或证书",
        "No signing key or certificate was found on the token",
    ),
    "MECHANISM_UNSUPPORTED": (
        ErrorGroup.TOKEN,
        "介质不支持该签名算法",
        "The token does not support this signature mechanism",
    ),
    "TOKEN_LIBRARY_INVALID": (
        ErrorGroup.TOKEN,
        "印章介质驱动库无法加载或不完整，请联系管理员",
        "The token library cannot be loaded or lacks required functions; ask the administrator",
    ),
    "CERT_INVALID": (ErrorGroup.TOKEN, "证书无效", "The certificate is invalid"),
    "SEAL_NOT_FOUND": (ErrorGroup.TOKEN, "找不到指定的印章", "The requested seal was not found"),
    "SEAL_VERSION_UNSUPPORTED": (ErrorGroup.TOKEN, "不支持的印章版本", "Unsupported seal version"),
    "SEAL_INVALID": (
        ErrorGroup.TOKEN,
        "印章数据无效（制章签名验证失败）",
        "The seal is invalid (the maker's signature does not verify)",
    ),
    "SEAL_NOT_FOR_SIGNER": (
        ErrorGroup.TOKEN,
        "签章人证书不在印章的证书列表中",
        "The signer's certificate is not bound to this seal",
    ),
    # the seal's standing at the central platform, the platform itself, time-stamping, audit
    "SEAL_REVOKED": (ErrorGroup.PLATFORM, "印章已注销", "The seal has been revoked"),
    "SEAL_SUSPENDED": (ErrorGroup.PLATFORM, "印章已挂起（暂停使用）", "The seal is suspended"),
    "SEAL_EXPIRED": (ErrorGroup.PLATFORM, "印章已过有效期", "The seal has expired"),
    "SEAL_NOT_YET_VALID": (ErrorGroup.PLATFORM, "印章尚未生效", "The seal is not yet valid"),
    "AGENT_UNAVAILABLE": (
        ErrorGroup.PLATFORM,
        "本地服务（sealbridge agent）未运行",
        "The local agent (sealbridge agent) is not running",
    ),
    "PLATFORM_UNREACHABLE": (
        ErrorGroup.PLATFORM,
        "无法连接电子印章公共服务平台",
        "The central seal platform cannot be reached",
    ),
    "PLATFORM_RESPONSE_INVALID": (
        ErrorGroup.PLATFORM,
        "电子印章平台的应答签名无效",
        "The central platform's response signature is invalid",
    ),
    "TIMESTAMP_FAILED": (
        ErrorGroup.PLATFORM,
        "时间戳服务请求失败或其应答无效",
        "The time-stamp authority refused the request or its answer is not valid",
    ),
    "TSA_UNREACHABLE": (
        ErrorGroup.PLATFORM,
        "无法连接时间戳服务，未盖章",
        "The time-stamp authority cannot be reached; nothing was stamped",
    ),
    "AUDIT_BROKEN": (ErrorGroup.PLATFORM, "审计日志校验失败", "The audit log chain is broken"),
    # a bug
    "INTERNAL": (ErrorGroup.INTERNAL, "内部错误", "Internal error"),
}

#: Every stable error code. A StrEnum, so a code compares equal to its string and serialises as one.
ErrorCode = StrEnum("ErrorCode", [(code, code) for code in _TABLE])  # type: ignore[misc]

#: code -> (message_zh, message_en)
MESSAGES: dict[str, tuple[str, str]] = {code: (zh, en) for code, (_group, zh, en) in _TABLE.items()}


def group_of(code: str) -> ErrorGroup:
    return _TABLE[code][0]


@dataclass
class SealBridgeError(Exception):
    """An error a person can act on. Raise it anywhere; the CLI, the agent and the platform render it."""

    code: str  # an ErrorCode (a plain string naming one is accepted and converted)
    detail: str | None = None
    extra: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        try:
            self.code = ErrorCode(self.code)
        except ValueError:
            raise ValueError(f"unknown error code {self.code!r}") from None
        super().__init__(self.code, self.detail)

    @property
    def group(self) -> ErrorGroup:
        return group_of(self.code)

    @property
    def message_zh(self) -> str:
        return MESSAGES[self.code][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.code][1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.extra:
            out.update(self.extra)
        return out

    def __str__(self) -> str:
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.code} {self.message_en} / {self.message_zh}{tail}"
