"""Stable error codes with Chinese and English messages, shared by every layer.

The code is the contract (pages, the CLI and tests match on it); the messages are for people.
`detail` carries the technical cause (a CKR_* name, a parser message) and never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> (message_zh, message_en). Grouped by who has to act.
MESSAGES: dict[str, tuple[str, str]] = {
    # the user
    "PIN_INCORRECT": ("口令错误", "The PIN is incorrect"),
    "PIN_LOCKED": ("口令已锁定，请联系管理员解锁", "The PIN is locked; ask the administrator to unlock it"),
    "PIN_INVALID": ("口令不符合要求", "The PIN does not meet the requirements"),
    "PASSWORD_INCORRECT": (
        "密码错误（密钥文件或证书文件）",
        "The password of the key or PKCS#12 file is incorrect",
    ),
    "USER_CANCELLED": ("用户已取消", "Cancelled by the user"),
    "TOKEN_ABSENT": ("未检测到印章介质（USB Key）", "No seal token (USB key) is present"),
    "TOKEN_ERROR": ("印章介质操作失败", "The seal token reported an error"),
    "TOKEN_NOT_FOUND": ("找不到指定的印章介质", "The requested token was not found"),
    "KEY_NOT_FOUND": ("介质中找不到签名密钥或证书", "No signing key or certificate was found on the token"),
    "MECHANISM_UNSUPPORTED": ("介质不支持该签名算法", "The token does not support this signature mechanism"),
    "TOKEN_LIBRARY_INVALID": (
        "印章介质驱动库无法加载或不完整，请联系管理员",
        "The token library cannot be loaded or lacks required functions; ask the administrator",
    ),
    # the portal developer
    "BAD_REQUEST": ("请求格式错误", "The request is malformed"),
    "DOC_TOO_LARGE": ("文档超出大小或数量限制", "The document exceeds a size or count limit"),
    "DOC_MALFORMED": ("文档格式错误或已损坏", "The document is malformed or damaged"),
    "DOC_UNSUPPORTED": ("不支持的文档格式", "Unsupported document format"),
    "DOC_LOCKED": (
        "文档已被锁定，不能再加盖印章",
        "The document is locked by an earlier seal; no further seals can be added",
    ),
    "PLACEMENT_INVALID": ("盖章位置无效", "The seal placement is invalid"),
    "FILE_NOT_FOUND": ("找不到文件", "The file does not exist"),
    "DOC_EMPTY": ("文档为空（0 字节）", "The document is empty (0 bytes)"),
    "TRUST_ANCHOR_INVALID": (
        "信任锚文件不是有效的证书（PEM 或 DER）",
        "The trust anchor file is not a valid certificate (PEM or DER)",
    ),
    "SEAL_VERSION_UNSUPPORTED": ("不支持的印章版本", "Unsupported seal version"),
    "SEAL_NOT_FOUND": ("找不到指定的印章", "The requested seal was not found"),
    # the administrator
    "ORIGIN_NOT_ALLOWED": ("该网站未被允许使用电子印章", "This site is not allowed to use electronic seals"),
    "SEAL_REVOKED": ("印章已注销", "The seal has been revoked"),
    "SEAL_SUSPENDED": ("印章已挂起（暂停使用）", "The seal is suspended"),
    "SEAL_EXPIRED": ("印章已过有效期", "The seal has expired"),
    "SEAL_NOT_YET_VALID": ("印章尚未生效", "The seal is not yet valid"),
    "SEAL_NOT_FOR_SIGNER": (
        "签章人证书不在印章的证书列表中",
        "The signer's certificate is not bound to this seal",
    ),
    "SEAL_INVALID": (
        "印章数据无效（制章签名验证失败）",
        "The seal is invalid (the maker's signature does not verify)",
    ),
    "CERT_INVALID": ("证书无效", "The certificate is invalid"),
    "TIMESTAMP_FAILED": (
        "时间戳服务请求失败或其应答无效",
        "The time-stamp authority refused the request or its answer is not valid",
    ),
    "TSA_UNREACHABLE": (
        "无法连接时间戳服务，未盖章",
        "The time-stamp authority cannot be reached; nothing was stamped",
    ),
    "AGENT_UNAVAILABLE": (
        "本地服务（sealbridge agent）未运行",
        "The local agent (sealbridge agent) is not running",
    ),
    "PLATFORM_UNREACHABLE": ("无法连接电子印章公共服务平台", "The central seal platform cannot be reached"),
    "PLATFORM_RESPONSE_INVALID": (
        "电子印章平台的应答签名无效",
        "The central platform's response signature is invalid",
    ),
    "UNAUTHENTICATED": ("未通过身份认证", "Not authenticated"),
    "FORBIDDEN": ("没有权限", "Forbidden"),
    "RATE_LIMITED": ("请求过于频繁", "Too many requests"),
    "BUSY": (
        "已有一个盖章请求等待确认",
        "Another stamping request from this site is already waiting for approval",
    ),
    "NOT_FOUND": ("找不到对象", "Not found"),
    "CONFLICT": ("状态冲突", "The request conflicts with the current state"),
    "AUDIT_BROKEN": ("审计日志校验失败", "The audit log chain is broken"),
    "BATCH_NOT_REVIEWED": (
        "批量盖章中仍有文档未预览，请逐份查看后再确认",
        "Some documents of the batch have not been previewed; look at each one before approving",
    ),
    "BATCH_MANIFEST_INVALID": (
        "批量盖章清单校验失败",
        "The batch manifest does not verify",
    ),
    # a bug
    "INTERNAL": ("内部错误", "Internal error"),
}


@dataclass
class SealBridgeError(Exception):
    """An error a person can act on. Raise it anywhere; the CLI, the agent and the platform render it."""

    code: str
    detail: str | None = None
    extra: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise ValueError(f"unknown error code {self.code!r}")
        super().__init__(self.code, self.detail)

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
