// Shared by the extension's own pages (approve, verify, options): messages, a port client, the report view.
import { CHUNK_BYTES, chunkCount, chunksOf, fromBase64 } from "../common/chunks.js";

const ext = globalThis.browser ?? globalThis.chrome;

export function t(key, ...subs) {
  return ext.i18n.getMessage(key, subs) || key;
}

/** Fill every [data-i18n] element with its message. */
export function localize(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.documentElement.lang = ext.i18n.getUILanguage();
}

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

/** Render a verification report (the shared shape of docs/verification.md). */
export function renderReport(container, report) {
  container.replaceChildren();
  const verdict = report.verdict;
  container.append(el("div", { class: `verdict verdict-${verdict}`, id: "verdict" }, t(`verdict_${verdict}`)));
  for (const seal of report.seals) {
    const card = el("section", { class: `seal-card verdict-${seal.verdict}` });
    const pic = seal.seal?.picture_png_base64
      ? el("img", { class: "seal-picture", alt: seal.seal.name, src: `data:image/png;base64,${seal.seal.picture_png_base64}` })
      : el("div", { class: "seal-picture none" }, "—");
    const head = el(
      "div",
      { class: "seal-head" },
      el("h2", {}, seal.seal ? `${seal.seal.name}` : seal.id),
      el("div", { class: "badge" }, t(`verdict_${seal.verdict}`)),
      el("div", {}, seal.seal ? `esID ${seal.seal.esID} · V${seal.seal.version}` : ""),
      el("div", {}, seal.signer ? seal.signer.subject : ""),
      el("div", {}, seal.signed_at ? `${seal.signed_at}` : ""),
    );
    const table = el("table", { class: "checks" });
    for (const name of CHECK_ORDER) {
      const c = seal.checks[name];
      if (!c) continue;
      table.append(
        el("tr", { class: `check-${c.status}`, "data-check": name }, el("td", {}, t(`check_${name}`)), el("td", { class: "status" }, t(`status_${c.status}`)), el("td", { class: "detail" }, c.detail)),
      );
    }
    card.append(el("div", { class: "seal-top" }, pic, head), table);
    container.append(card);
  }
}

export { CHUNK_BYTES };
