"""`sealbridge seal inspect FILE [--json]` — show a seal (.esl/.sel/.der) or an SES_Signature (SignedValue.dat).

The file may be DER, PEM, or base64 text. Exit 0 after a successful inspection (even when a signature
fails: the output says so), 2 on an error (with --json, the error object on stdout).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
from pathlib import Path
from typing import Any

from agent.cli.common import add_json_flag, command, print_json
from formats.errors import SealBridgeError

_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("seal", help="inspect electronic seals (印章) and seal signatures")
    sub = parser.add_subparsers(dest="seal_command", metavar="ACTION")
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)
    p = sub.add_parser("inspect", help="show a seal (.esl) or a SignedValue.dat and check its signatures")
    p.add_argument("file", metavar="FILE", help="seal (.esl/.sel/.der) or SES_Signature (SignedValue.dat)")
    p.add_argument("--picture", metavar="OUT.png", help="also write the seal picture as PNG")
    p.add_argument(
        "--backend", choices=("tongsuo", "gmssl"), help="SM2 backend for the checks (default: the fastest)"
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_inspect)


def read_ses_file(path: str | Path) -> bytes:
    """The DER bytes of a seal or signature file; PEM and base64 text are unwrapped."""
    from formats.ses.parse import MAX_SES_BYTES  # the seal libraries load when a seal is read
    from stamping.smallfile import read_small_file

    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SES_BYTES:
            raise SealBridgeError("DOC_TOO_LARGE", f"{file.name} is {size} bytes (limit {MAX_SES_BYTES})")
        data = read_small_file(file, MAX_SES_BYTES)
    except OSError as exc:
        raise SealBridgeError("BAD_REQUEST", f"cannot read {path}: {exc.strerror}") from None
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        body = b"".join(line for line in stripped.splitlines() if line and not line.startswith(b"-----"))
        return _b64(body, path)
    if stripped and stripped[:1] != b"\x30" and _BASE64_TEXT.match(stripped):
        return _b64(stripped, path)
    return data


def _b64(text: bytes, path: str | Path) -> bytes:
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SealBridgeError("DOC_MALFORMED", f"{path}: neither DER nor valid base64") from None


@command
def cmd_inspect(args: argparse.Namespace) -> int:
    from formats.picture import decode_picture
    from formats.ses import detect_kind, parse_seal, parse_signature
    from formats.ses.summary import seal_summary, signature_summary
    from stamping.fileout import atomic_write

    der = read_ses_file(args.file)
    kind = detect_kind(der)
    if kind == "pkcs7":
        raise SealBridgeError(
            "DOC_UNSUPPORTED",
            "a PKCS#7 / GB/T 35275 signature, not a seal: verify the document that holds it",
        )
    if kind == "raw_sm2":
        raise SealBridgeError("DOC_UNSUPPORTED", "a bare SM2 signature value without a seal or certificate")
    if kind == "signature":
        sig = parse_signature(der)
        seal = sig.seal
        result = signature_summary(sig, backend=args.backend)
    else:
        seal = parse_seal(der)  # also gives the precise DOC_MALFORMED reason for non-DER input
        result = seal_summary(seal, backend=args.backend)
    if args.picture:
        png, reason = decode_picture(seal.picture.type, seal.picture.data)
        if png is None:  # e.g. a vector OFD picture: say so, the inspection itself still stands
            result["picture_file"] = None
            result["picture_note"] = reason
        else:
            atomic_write(Path(args.picture), png, 0o644)
            result["picture_file"] = str(args.picture)
    if args.json:
        print_json(result)
    else:
        print(format_human(result))
    return 0


_STATUS = {"ok": "通过 ok", "failed": "失败 FAILED", "unknown": "无法验证 unknown"}


def _cert_line(cert: dict[str, Any] | None) -> str:
    if not cert:
        return "-"
    if "error" in cert:
        return f"(不可读 unreadable: {cert['error']})"
    return (
        f"{cert['subject']}  [{cert['key_algorithm']}, serial {cert['serial']}, to {cert['not_after'][:10]}]"
    )


def _seal_lines(seal: dict[str, Any], indent: str = "") -> list[str]:
    label = seal["type_label"]
    pic = seal["picture"]
    lines = [
        f"{indent}印章 Seal  V{seal['version']} (header {seal['header_version']}, vid {seal['vid']})",
        f"{indent}  印章编码 esID:           {seal['esID']}",
        f"{indent}  印章名称 Name:           {seal['name']}",
        f"{indent}  印章类型 Type:           {seal['type']} {label['label_zh']} / {label['label_en']}",
        f"{indent}  有效期 Valid:            {seal['valid_from']} .. {seal['valid_to']}",
        f"{indent}  制作时间 Created:        {seal['created']}",
        f"{indent}  印模 Picture:            {pic['type']} {pic['width_mm']}x{pic['height_mm']} mm",
        f"{indent}  制章签名 Maker signature: {_STATUS[seal['maker_signature']]} ({seal['maker_signature_detail']})",
        f"{indent}  制章者证书 Maker cert:   {_cert_line(seal['maker_cert'])}",
    ]
    if seal["cert_list_type"] == 1:
        lines.append(f"{indent}  签章人证书 Signer certs ({len(seal['certs'])}):")
        lines += [f"{indent}    - {_cert_line(c)}" for c in seal["certs"]]
    else:
        lines.append(f"{indent}  签章人证书摘要 Signer cert digests:")
        lines += [f"{indent}    - {d['type']}: {d['value']}" for d in seal.get("cert_digests", [])]
    lines += [f"{indent}  警告 Warning: {w}" for w in seal.get("warnings", [])]
    return lines


def format_human(result: dict[str, Any]) -> str:
    if result["kind"] == "seal":
        return "\n".join(_seal_lines(result) + _picture_lines(result))
    lines = [
        f"电子签章 Seal signature  V{result['version']}",
        f"  签章时间 Time:           {result['time']}",
        f"  签名 Signature:          {_STATUS[result['signature']]} ({result['signature_detail']})",
        f"  签章人 Signer:           {_cert_line(result['signer'])}",
        f"  签章人属于印章 In seal:  {'是 yes' if result['signer_in_seal'] else '否 NO'}",
        f"  原文摘要 Data hash:      {result['data_hash']}",
        f"  保护范围 Property info:  {result['property_info']}",
    ]
    lines += [f"  警告 Warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines + _seal_lines(result["seal"], indent="  ") + _picture_lines(result))


def _picture_lines(result: dict[str, Any]) -> list[str]:
    if "picture_file" not in result:
        return []
    if result["picture_file"]:
        return [f"印模已导出 Picture written: {result['picture_file']}"]
    return [f"印模未导出 Picture not written: {result['picture_note']}"]
