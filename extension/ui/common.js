// Shared by the extension's own pages (approve, verify, options): messages, a port client, the report view.
import { CHUNK_BYTES, chunkCount, chunksOf, fromBase64 } from "../common/chunks.js";
import { t } from "./i18n.js";

const ext = globalThis.browser ?? globalThis.chrome;

export { languageSwitch, loadLanguage, localize, t } from "./i18n.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}

/** Request/response over a runtime port to the service worker, documents as base64 chunks. */
export function connectWorker(onEvent = () => {}) {
  const port = ext.runtime.connect({ name: "sealbridge-ui" });
  const pending = new Map();
  let seq = 0;
  port.onMessage.addListener((msg) => {
    if (msg.type === "event") return onEvent(msg.event, msg.data);
    const entry = pending.get(msg.key);
    if (!entry) return;
    if (msg.type === "response") {
      Object.assign(entry, { result: msg.result, error: msg.error, docChunks: msg.docChunks || 0, parts: [] });
    } else if (msg.type === "chunk") {
      entry.parts.push(fromBase64(msg.b64));
    }
    if (entry.docChunks !== undefined && entry.parts.length >= entry.docChunks) {
      pending.delete(msg.key);
      if (entry.error) entry.reject(Object.assign(new Error(entry.error.message_en), entry.error));
      else entry.resolve({ result: entry.result, document: entry.docChunks ? concat(entry.parts) : null });
    }
  });
  return {
    request(method, params = {}, bytes = null) {
      const key = `ui${++seq}`;
      return new Promise((resolve, reject) => {
        pending.set(key, { resolve, reject });
        port.postMessage({ type: "request", key, method, params, docChunks: bytes ? chunkCount(bytes.length) : 0, docSize: bytes ? bytes.length : 0 });
        if (bytes) for (const c of chunksOf(bytes)) port.postMessage({ type: "chunk", key, ...c });
      });
    },
  };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const CHECK_ORDER = ["integrity", "signature", "seal", "signer_in_seal", "certificate", "platform_status", "changes_after", "timestamp"];

/** An error from the worker or the agent, in both languages with its stable code. */
export function errorText(e) {
  const zh = e?.message_zh ?? "";
  const en = e?.message_en ?? e?.message ?? "";
  const detail = e?.detail ? ` — ${e.detail}` : "";
  return `${zh}${zh && en ? " / " : ""}${en}${detail} (${e?.code ?? "ERROR"})`;
}

/** Why a seal is not valid, in one line: the failed checks first, else the ones that could not be confirmed. */
export function reasonOf(seal) {
  const checks = Object.entries(seal.checks ?? {});
  const pick = (status) => checks.filter(([, c]) => c.status === status).map(([name, c]) => `${t(`check_${name}`)}: ${c.detail}`);
  const failed = pick("failed");
  if (failed.length) return failed.join("; ");
  if (seal.verdict === "valid") return "";
  return checks.filter(([, c]) => c.status === "unknown" && !notApplicable(c)).map(([name, c]) => `${t(`check_${name}`)}: ${c.detail}`).join("; ");
}

/** A check that does not apply to this seal (e.g. no timestamp was added) is not a doubt about it. */
export const notApplicable = (c) => c.status !== "failed" && (c.applicable === false || /^not applicable/i.test(c.detail ?? ""));

/** Render a verification report (the shared shape of docs/verification.md). */
export function renderReport(container, report) {
  container.replaceChildren();
  const verdict = report.verdict;
  container.append(el("div", { class: `verdict verdict-${verdict}`, id: "verdict", "data-verdict": verdict }, t(`verdict_${verdict}`)));
  for (const seal of report.seals) {
    const card = el("section", { class: `seal-card verdict-${seal.verdict}`, "data-seal": seal.id, "data-verdict": seal.verdict });
    const pic = seal.seal?.picture_png_base64
      ? el("img", { class: "seal-picture", alt: seal.seal.name, src: `data:image/png;base64,${seal.seal.picture_png_base64}` })
      : el("div", { class: "seal-picture none" }, "—");
    const facts = el("dl", { class: "facts compact" });
    const fact = (label, value) => value && facts.append(el("dt", {}, label), el("dd", {}, value));
    fact(t("sealHolder"), seal.seal ? `esID ${seal.seal.esID} · V${seal.seal.version}` : "");
    fact(t("signerLabel"), seal.signer?.subject ?? "");
    fact(t("signedAtLabel"), seal.signed_at ?? "");
    const head = el(
      "div",
      { class: "seal-head" },
      el("h2", {}, seal.seal ? seal.seal.name : seal.id, " ", el("span", { class: "badge" }, t(`verdict_${seal.verdict}`))),
      facts,
    );
    const reason = reasonOf(seal);
    const table = el("table", { class: "checks" });
    for (const name of CHECK_ORDER) {
      const c = seal.checks[name];
      if (!c) continue;
      table.append(
        el("tr", { class: notApplicable(c) ? "check-na" : `check-${c.status}`, "data-check": name }, el("td", {}, t(`check_${name}`)), el("td", { class: "status" }, t(notApplicable(c) ? "status_na" : `status_${c.status}`)), el("td", { class: "detail" }, c.detail)),
      );
    }
    card.append(el("div", { class: "seal-top" }, pic, head));
    if (reason) card.append(el("p", { class: "reason" }, el("strong", {}, `${t("verdictReason")}: `), reason));
    card.append(table);
    container.append(card);
  }
}

export { CHUNK_BYTES };
