"""The protocol v1 methods. Each handler: `async (session, request) -> result dict`; errors are raised as
SealBridgeError. Page-facing calls (hello, seals.list, stamp, verify, cancel) carry the page origin the
extension took from the browser; approve, preview, tokens.list, token.changePin and audit.recent are for the
extension's own windows. Never exposed: key generation, import, deletion, raw "sign these bytes"."""

from __future__ import annotations

from agent.server.methods.basic import audit_recent, change_pin, hello, seals_list, tokens_list
from agent.server.methods.batch import stamp_batch
from agent.server.methods.preview import preview
from agent.server.methods.stamp import approve, cancel, stamp
from agent.server.methods.verify import verify

HANDLERS = {
    "hello": hello,
    "seals.list": seals_list,
    "stamp": stamp,
    "stamp.batch": stamp_batch,
    "verify": verify,
    "preview": preview,
    "cancel": cancel,
    "approve": approve,
    "tokens.list": tokens_list,
    "token.changePin": change_pin,
    "audit.recent": audit_recent,
}
