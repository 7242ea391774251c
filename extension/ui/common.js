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

/** An error from the worker or the agent, in both languages with its stable code. */
export function errorText(e) {
  const zh = e?.message_zh ?? "";
  const en = e?.message_en ?? e?.message ?? "";
  const detail = e?.detail ? ` — ${e.detail}` : "";
  return `${zh}${zh && en ? " / " : ""}${en}${detail} (${e?.code ?? "ERROR"})`;
}

export { CHECK_ORDER, loadCatalogue, reasonOf, renderReport, toneOf } from "./report-view.js";

export { CHUNK_BYTES };
