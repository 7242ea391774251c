// SealBridge page SDK: talks to the SealBridge extension through window.postMessage.
// No dependencies, no build step: `import { SealBridge } from "./sealbridge.js"`.
// The page never reaches the local agent itself; the extension does, after the user approves in its own window.

export const SDK_VERSION = "0.1.0";
const TAG = "__sealbridge";
// The extension's content script acknowledges every request at once (it lives in the page; no service worker
// has to wake for that): without an acknowledgement in this time there is no extension, and the call rejects
// with EXTENSION_NOT_FOUND — for every call, well under 3 s.
export const EXTENSION_TIMEOUT_MS = 1500;
const DETECT_TIMEOUT_MS = 5000; // acknowledged, the answer follows within ~0.7 s (the worker's own wait) and wake-up

/** An error with a stable protocol code (PIN_INCORRECT, USER_CANCELLED, ORIGIN_NOT_ALLOWED…). */
export class SealBridgeError extends Error {
  constructor(code, messageEn, { messageZh = "", detail = undefined, data = undefined } = {}) {
    super(messageEn || code);
    this.name = "SealBridgeError";
    this.code = code;
    this.messageZh = messageZh;
    this.messageEn = messageEn || code;
    this.detail = detail;
    this.data = data;
  }

  static fromWire(err) {
    if (!err || typeof err !== "object" || typeof err.code !== "string") {
      return new SealBridgeError("INTERNAL", "Malformed error from the extension");
    }
    const { code, message_en: en, message_zh: zh, detail, ...data } = err;
    return new SealBridgeError(code, en, { messageZh: zh, detail, data });
  }
}

function randomId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function toArrayBuffer(doc) {
  if (doc instanceof ArrayBuffer) return doc;
  if (ArrayBuffer.isView(doc)) return doc.buffer.slice(doc.byteOffset, doc.byteOffset + doc.byteLength);
  if (doc && typeof doc.arrayBuffer === "function") return doc.arrayBuffer(); // Blob / File / Response
  throw new SealBridgeError("BAD_REQUEST", "document must be a Blob, File, ArrayBuffer or typed array");
}

function sniffFormat(bytes) {
  const head = new Uint8Array(bytes, 0, Math.min(5, bytes.byteLength));
  if (head[0] === 0x25 && head[1] === 0x50 && head[2] === 0x44 && head[3] === 0x46) return "pdf"; // %PDF
  if (head[0] === 0x50 && head[1] === 0x4b) return "ofd"; // zip
  return null;
}

const MIME = { pdf: "application/pdf", ofd: "application/ofd" };
const MAX_BATCH = 100;

/**
 * Create a client bound to a window (the page's own window by default). Tests pass a fake window.
 */
export function createClient(win = globalThis.window, { timeoutMs = 10 * 60 * 1000 } = {}) {
  const channel = randomId();
  const pending = new Map();
  const listeners = new Map();
  let seq = 0;
  let announced = false;

  win.addEventListener("message", (event) => {
    // Only replies from our own window's content script, on our channel.
    if (event.source !== win) return;
    const msg = event.data;
    if (!msg || typeof msg !== "object" || msg[TAG] === undefined || msg.channel !== channel) return;
    if (msg[TAG] === "ack") {
      const entry = pending.get(msg.id);
      if (entry) clearTimeout(entry.presence);
    } else if (msg[TAG] === "response") {
      const entry = pending.get(msg.id);
      if (!entry) return;
      pending.delete(msg.id);
      clearTimeout(entry.timer);
      clearTimeout(entry.presence);
      if (msg.error) entry.reject(SealBridgeError.fromWire(msg.error));
      else entry.resolve(msg);
    } else if (msg[TAG] === "event" && typeof msg.event === "string") {
      emit(msg.event, msg.data);
    }
  });

  function emit(event, data) {
    for (const cb of listeners.get(event) || []) {
      try {
        cb(data);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  function call(method, params = {}, document = undefined, { timeout = timeoutMs } = {}) {
    const id = `${++seq}`;
    return new Promise((resolve, reject) => {
      const give = (err) => {
        const entry = pending.get(id);
        if (!entry) return;
        pending.delete(id);
        clearTimeout(entry.timer);
        clearTimeout(entry.presence);
        reject(err);
      };
      const timer = setTimeout(() => give(new SealBridgeError("TIMEOUT", `No answer to ${method} in time`, { messageZh: "请求超时" })), timeout);
      const presence = setTimeout(
        () =>
          give(
            new SealBridgeError("EXTENSION_NOT_FOUND", "The SealBridge extension is not installed or not enabled here", {
              messageZh: "未检测到 SealBridge 浏览器扩展",
              data: { timeout_ms: EXTENSION_TIMEOUT_MS },
            }),
          ),
        Math.min(EXTENSION_TIMEOUT_MS, timeout),
      );
      pending.set(id, { resolve, reject, timer, presence });
      // From the very start a page can show its own bar; the extension's phases (receiving, uploading, then the
      // agent's status/login/signing/sending) follow.
      if (document) emit("progress", { phase: "start", fraction: 0, size: document.byteLength });
      const msg = { [TAG]: "request", channel, id, method, params };
      if (document) msg.document = document;
      win.postMessage(msg, win.location.origin, document ? [document] : undefined);
    });
  }

  return {
    /**
     * What a page can know before asking anything, each fact on its own: the extension is installed, it is
     * paired with the agent (and the agent connected), this site is allowed / will be asked about / is denied.
     * → {installed, version, paired, agent: {connected, version} | null, site: "allowed"|"ask"|"denied"|null,
     *    siteAllowed}
     */
    async detect() {
      try {
        const res = await call("detect", {}, undefined, { timeout: DETECT_TIMEOUT_MS });
        const r = res.result ?? {};
        const site = r.site ?? null;
        return { installed: true, version: r.version, paired: r.paired === true, agent: r.agent ?? null, site, siteAllowed: site === "allowed" };
      } catch (e) {
        if (e.code === "EXTENSION_NOT_FOUND") return { installed: false, version: null, paired: false, agent: null, site: null, siteAllowed: false };
        throw e;
      }
    },

    /**
     * Stamp a document. The user approves (seal, PIN) in the extension's own window.
     * @returns {Promise<{document: Blob, report: object|null}>}
     */
    async stamp({ document, name, format, placements, seal, reason } = {}) {
      if (!document) throw new SealBridgeError("BAD_REQUEST", "document is required");
      if (!Array.isArray(placements) || placements.length === 0) {
        throw new SealBridgeError("PLACEMENT_INVALID", "placements must be a non-empty array");
      }
      const bytes = await toArrayBuffer(document);
      const fmt = format || sniffFormat(bytes);
      if (fmt !== "pdf" && fmt !== "ofd") throw new SealBridgeError("DOC_UNSUPPORTED", "only PDF and OFD can be stamped");
      const params = { name: String(name || (document && document.name) || `document.${fmt}`), format: fmt, placements };
      if (seal) params.seal = String(seal);
      if (reason) params.reason = String(reason);
      const res = await call("stamp", params, bytes);
      return { document: new Blob([res.document], { type: MIME[fmt] }), report: res.result?.report ?? null };
    },

    /**
     * Stamp up to 100 documents with one approval and one PIN. The user sees each document (name, pages, SM3,
     * preview with the seal) in the extension's batch window and may untick some. `onProgress` hears each
     * document as it starts and finishes. A document that cannot be read or stamped does not stop the others:
     * its result carries the error.
     * @returns {Promise<{batchId: string, auditSeq: number, manifestSm3: string, results: object[]}>}
     */
    async stampBatch(documents, { seal, reason, onProgress } = {}) {
      if (!Array.isArray(documents) || documents.length === 0) {
        throw new SealBridgeError("BAD_REQUEST", "documents must be a non-empty array");
      }
      if (documents.length > MAX_BATCH) {
        throw new SealBridgeError("DOC_TOO_LARGE", `a batch holds at most ${MAX_BATCH} documents`, { messageZh: `一次最多批量盖章 ${MAX_BATCH} 份文档` });
      }
      const buffers = [];
      const items = [];
      for (const [i, d] of documents.entries()) {
        if (!d || !d.document) throw new SealBridgeError("BAD_REQUEST", `documents[${i}].document is required`);
        if (!Array.isArray(d.placements) || d.placements.length === 0) {
          throw new SealBridgeError("PLACEMENT_INVALID", `documents[${i}].placements must be a non-empty array`);
        }
        const bytes = await toArrayBuffer(d.document);
        const fmt = sniffFormat(bytes) ?? "pdf";
        const item = { name: String(d.name || d.document.name || `document-${i + 1}.${fmt}`), size: bytes.byteLength, placements: d.placements };
        if (d.seal) item.seal = String(d.seal);
        buffers.push(bytes);
        items.push(item);
      }
      // One transfer to the extension: the documents back to back, each named by its size.
      const joined = new Uint8Array(items.reduce((n, it) => n + it.size, 0));
      let off = 0;
      for (const b of buffers) {
        joined.set(new Uint8Array(b), off);
        off += b.byteLength;
      }
      const params = { documents: items };
      if (seal) params.seal = String(seal);
      if (reason) params.reason = String(reason);
      const unsubscribe = typeof onProgress === "function" ? this.on("batch", onProgress) : null;
      let res;
      try {
        res = await call("stamp.batch", params, joined.buffer);
      } finally {
        unsubscribe?.();
      }
      const out = res.document ?? new ArrayBuffer(0);
      const results = res.result.documents.map((d) => ({
        index: d.index,
        name: d.name,
        status: d.status,
        sm3Before: d.sm3_before ?? null,
        sm3After: d.sm3_after ?? null,
        document: d.status === "stamped" ? new Blob([out.slice(d.offset, d.offset + d.size)], { type: MIME[d.format] ?? "application/octet-stream" }) : null,
        error: d.error ? SealBridgeError.fromWire(d.error) : null,
      }));
      return { batchId: res.result.batch_id, auditSeq: res.result.audit_seq, manifestSm3: res.result.manifest_sm3, results };
    },

    /** Verify the seals on a PDF or OFD. → the verification report */
    async verify(document, { name } = {}) {
      const bytes = await toArrayBuffer(document);
      const fmt = sniffFormat(bytes);
      if (!fmt) throw new SealBridgeError("DOC_UNSUPPORTED", "only PDF and OFD can be verified");
      const res = await call("verify", { name: String(name || document?.name || `document.${fmt}`), format: fmt }, bytes);
      return res.result;
    },

    /** Seals usable on the inserted tokens (metadata only). */
    async listSeals() {
      const res = await call("seals.list", {});
      return res.result.seals;
    },

    /** Subscribe to 'token' (inserted/removed), 'progress' or 'batch' (one document of a batch started or
     * finished) events. Returns an unsubscribe function. */
    on(event, cb) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(cb);
      // The extension sends events to the channels it has heard from: say hello once so a page that only
      // listens (no call yet) gets them too. Without the extension this times out quietly.
      if (!announced) {
        announced = true;
        call("detect", {}, undefined, { timeout: DETECT_TIMEOUT_MS }).catch(() => {});
      }
      return () => listeners.get(event)?.delete(cb);
    },
  };
}

let defaultClient = null;
function client() {
  defaultClient ??= createClient();
  return defaultClient;
}

export const SealBridge = {
  detect: (...a) => client().detect(...a),
  stamp: (...a) => client().stamp(...a),
  stampBatch: (...a) => client().stampBatch(...a),
  verify: (...a) => client().verify(...a),
  listSeals: (...a) => client().listSeals(...a),
  on: (...a) => client().on(...a),
};

export default SealBridge;
