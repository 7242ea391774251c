// Pure helpers of the extension's pages and worker: message formatting, preview pages, kind labels, token
// events, and the one-line reason a seal is not valid.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";

// The pages' modules read chrome.* only inside functions; this stand-in answers what they ask.
globalThis.chrome = { i18n: { getMessage: (k) => `[${k}]`, getUILanguage: () => "zh-CN" } };
const { formatMessage, currentLanguage } = await import("../ui/i18n.js");
const { previewPages, sealKindLabel, sealOptionLabel } = await import("../ui/approve-view.js");
const { tokenEvent } = await import("../background/policy.js");
const { errorText, reasonOf, toneOf } = await import("../ui/common.js");
const { useCatalogue } = await import("../ui/report-view.js");
const { beijingTime } = await import("../common/report-text.js");

const messages = (loc) => JSON.parse(readFileSync(new URL(`../_locales/${loc}/messages.json`, import.meta.url), "utf8"));

test("messages: named placeholders are filled, both locales have the same keys", () => {
  const zh = messages("zh_CN");
  const en = messages("en");
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  assert.equal(formatMessage(zh.pinRetriesLeft, ["3"]), "口令错误，还可以尝试 3 次");
  assert.equal(formatMessage(en.tokenRemoved, ["UKey A"]), "The USB key “UKey A” was removed; insert it again");
  assert.equal(formatMessage({ message: "cost $$5 for $X$", placeholders: { x: { content: "$1" } } }, ["you"]), "cost $5 for you");
  assert.equal(formatMessage(undefined, []), null);
  for (const [key, entry] of Object.entries(en)) {
    for (const m of entry.message.matchAll(/\$([A-Za-z0-9_]+)\$/g)) assert.ok(entry.placeholders?.[m[1].toLowerCase()], `${key}: $${m[1]}$`);
  }
});

test("language: a stored choice wins, else the browser's", () => {
  assert.equal(currentLanguage("en"), "en");
  assert.equal(currentLanguage("zh_CN"), "zh_CN");
  assert.equal(currentLanguage("fr"), "zh_CN"); // not offered: the browser's (zh-CN here)
  assert.equal(currentLanguage(undefined), "zh_CN");
});

test("preview pages: all of a short document, else coordinates plus first and last page", () => {
  assert.deepEqual(previewPages({ pages: 3, placements: [] }), [1, 2, 3]);
  assert.deepEqual(previewPages({ pages: null, placements: [] }), [1]);
  const long = { pages: 120, placements: [{ type: "at", page: 57, x: 1, y: 1 }, { type: "keyword", text: "盖章处" }, { type: "at", page: 999, x: 1, y: 1 }] };
  assert.deepEqual(previewPages(long), [1, 57, 120]);
  const many = { pages: 100, placements: Array.from({ length: 30 }, (_, i) => ({ type: "at", page: i + 2, x: 0, y: 0 })) };
  assert.equal(previewPages(many).length, 8);
});

test("seal kinds: names are shown, bare type numbers are not", () => {
  assert.equal(sealKindLabel("合同专用章"), "合同专用章");
  assert.equal(sealKindLabel("4"), "");
  assert.equal(sealKindLabel(4), "");
  assert.equal(sealKindLabel(null), "");
  assert.equal(sealOptionLabel({ id: "1", name: "示例科技有限公司合同专用章", kind: "合同专用章" }), "示例科技有限公司合同专用章");
  assert.equal(sealOptionLabel({ id: "1", name: "示例科技有限公司", kind: "法定名称章" }), "示例科技有限公司 · 法定名称章");
  assert.equal(sealOptionLabel({ id: "1", name: "李明", kind: "4" }), "李明");
});

test("token events: a removal is named by the label its insertion (or tokens.list) taught", () => {
  const labels = new Map();
  assert.deepEqual(tokenEvent("token.inserted", { token: { token_id: "pkcs11:A", label: "UKey A" } }, labels), { type: "inserted", token: "pkcs11:A", label: "UKey A" });
  assert.deepEqual(tokenEvent("token.removed", { token_id: "pkcs11:A" }, labels), { type: "removed", token: "pkcs11:A", label: "UKey A" });
  assert.deepEqual(tokenEvent("token.removed", { token_id: "pkcs11:B" }, labels), { type: "removed", token: "pkcs11:B", label: "pkcs11:B" });
});

test("reasons: the deciding check in the reader's language; a valid seal has none; errors carry both languages and the code", () => {
  useCatalogue(JSON.parse(readFileSync(new URL("../common/report-messages.json", import.meta.url), "utf8")));
  const seal = (verdict, checks) => ({ verdict, checks });
  const tampered = seal("invalid", {
    integrity: { status: "failed", applicable: true, reasons: [{ code: "REF_DIGEST_MISMATCH", file: "/Doc_0/Document.xml" }] },
    certificate: { status: "unknown", applicable: true, reasons: [{ code: "NO_TRUST_ANCHORS" }] },
  });
  assert.equal(reasonOf(tampered, "zh"), "文档完整性：文件 /Doc_0/Document.xml 在盖章后被改动");
  assert.equal(reasonOf(tampered, "en"), "Document integrity: The file /Doc_0/Document.xml was changed after sealing");
  assert.equal(reasonOf(seal("valid", { integrity: { status: "ok", reasons: [{ code: "REFS_MATCH", count: 3, method: "SM3" }] } }), "zh"), "");
  // a check that does not apply (no timestamp added) is no reason for doubt
  const noTs = seal("indeterminate", {
    timestamp: { status: "unknown", applicable: false, reasons: [{ code: "NA_NO_TIMESTAMP" }] },
    platform_status: { status: "unknown", applicable: true, reasons: [{ code: "PLATFORM_UNREACHABLE", error_code: "PLATFORM_UNREACHABLE" }] },
  });
  assert.equal(reasonOf(noTs, "zh"), "平台登记状态：暂时无法连接印章平台（PLATFORM_UNREACHABLE），请稍后再试");
  assert.equal(toneOf("valid", [{ code: "SEAL_REVOKED_AFTER_SIGNING", since: "2026-12-06T01:00:00Z" }]), "attention");
  assert.equal(toneOf("valid", [{ code: "SIGNING_TIME_FROM_SIGNER_ONLY" }]), "valid");
  assert.equal(errorText({ code: "PIN_LOCKED", message_zh: "口令已锁定", message_en: "PIN locked" }), "口令已锁定 / PIN locked (PIN_LOCKED)");
});

test("Beijing time: ISO times in any zone, shown with the zone; other text as written", () => {
  assert.equal(beijingTime("2026-12-06T01:31:23+00:00"), "2026-12-06 09:31:23 (UTC+8)");
  assert.equal(beijingTime("2026-12-06T01:31:23.123456Z"), "2026-12-06 09:31:23 (UTC+8)");
  assert.equal(beijingTime("2026-12-06T09:31:23+08:00"), "2026-12-06 09:31:23 (UTC+8)");
  assert.equal(beijingTime(null), "—");
  assert.equal(beijingTime("20200817111329Z"), "20200817111329Z");
});
