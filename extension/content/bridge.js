// Content script: a bridge between the page SDK (window.postMessage) and the service worker (a runtime port).
// It adds nothing and trusts nothing from the page: it accepts only well-formed requests from this very window,
// forwards them, and the service worker takes the requesting origin from the browser (port.sender), never from
// the message. Classic script (content scripts cannot be modules); kept self-contained.
(() => {
  "use strict";
  const TAG = "__sealbridge";
  const PAGE_METHODS = new Set(["detect", "stamp", "stamp.batch", "verify", "seals.list"]);
  const MAX_DOC_BYTES = 200 * 1024 * 1024;
  // Chrome serialises runtime messages as JSON and caps them at 64 MiB; 4 MiB raw = 5.6 MB of base64.
  const CHUNK_BYTES = 4 * 1024 * 1024;
  const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

  const ext = globalThis.browser ?? globalThis.chrome;
  const win = globalThis.window;
  let port = null;
  let reconnectTimer = null;
  const inflight = new Map(); // key -> {channel, id, chunks: []}
  const channels = new Set();

  function toBase64(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  function fromBase64(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function reply(channel, msg, transfer) {
    win.postMessage({ [TAG]: msg.kind, channel, ...msg.body }, win.location.origin, transfer);
  }

  function fail(channel, id, code, en, zh) {
    reply(channel, { kind: "response", body: { id, error: { code, message_en: en, message_zh: zh } } });
  }

  function onPortMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "event") {
      for (const channel of channels) reply(channel, { kind: "event", body: { event: msg.event, data: msg.data } });
      return;
    }
    const entry = inflight.get(msg.key);
    if (!entry) return;
    if (msg.type === "response") {
      entry.result = msg.result;
      entry.error = msg.error;
      entry.docChunks = msg.docChunks || 0;
      entry.parts = [];
    } else if (msg.type === "chunk") {
      entry.parts.push(fromBase64(msg.b64));
    } else {
      return;
    }
    if (entry.parts.length < entry.docChunks) return;
    inflight.delete(msg.key);
    const body = { id: entry.id };
    let transfer;
    if (entry.error) body.error = entry.error;
    else body.result = entry.result;
    if (entry.docChunks) {
      const total = entry.parts.reduce((n, p) => n + p.length, 0);
      const doc = new Uint8Array(total);
      let off = 0;
      for (const p of entry.parts) {
        doc.set(p, off);
        off += p.length;
      }
      body.document = doc.buffer;
      transfer = [doc.buffer];
    }
    reply(entry.channel, { kind: "response", body }, transfer);
  }

  function ensurePort() {
    if (port) return port;
    port = ext.runtime.connect({ name: "sealbridge-bridge" });
    port.onMessage.addListener(onPortMessage);
    port.onDisconnect.addListener(() => {
      port = null;
      for (const [key, entry] of inflight) {
        inflight.delete(key);
        fail(entry.channel, entry.id, "AGENT_UNAVAILABLE", "The extension restarted; try again", "扩展已重启，请重试");
      }
      // A page listening for events keeps listening across a service-worker restart.
      if (channels.size && !reconnectTimer) reconnectTimer = setTimeout(() => ((reconnectTimer = null), channels.size && ensurePort()), 1000);
    });
    return port;
  }

  function isPageRequest(event) {
    if (event.source !== win || event.origin !== win.location.origin) return false;
    const d = event.data;
    return !!d && typeof d === "object" && d[TAG] === "request";
  }

  win.addEventListener("message", (event) => {
    if (!isPageRequest(event)) return;
    const { channel, id, method, params, document } = event.data;
    if (typeof channel !== "string" || !ID_RE.test(channel) || typeof id !== "string" || !ID_RE.test(id)) return;
    channels.add(channel);
    if (!PAGE_METHODS.has(method)) {
      fail(channel, id, "BAD_REQUEST", `unknown method ${String(method).slice(0, 40)}`, "未知的调用");
      return;
    }
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
      fail(channel, id, "BAD_REQUEST", "params must be an object", "参数格式错误");
      return;
    }
    let bytes = null;
    if (document !== undefined) {
      // Not `instanceof`: in Firefox the page's ArrayBuffer belongs to the page's compartment, not to this
      // content script's, so `instanceof ArrayBuffer` is false for every document a page sends.
      if (Object.prototype.toString.call(document) !== "[object ArrayBuffer]") {
        fail(channel, id, "BAD_REQUEST", "document must be an ArrayBuffer", "文档格式错误");
        return;
      }
      if (document.byteLength > MAX_DOC_BYTES) {
        fail(channel, id, "DOC_TOO_LARGE", "document larger than 200 MiB", "文档超过 200 MiB");
        return;
      }
      // Firefox: a view on the page's buffer cannot be made from here ("Permission denied to access property
      // constructor"); a structured clone brings a copy into this compartment. Chromium needs no copy.
      bytes = new Uint8Array(document instanceof ArrayBuffer ? document : structuredClone(document));
    }
    const key = `${channel}:${id}`;
    if (inflight.has(key)) return;
    // "The extension is here": the SDK stops waiting for EXTENSION_NOT_FOUND (the answer may take long).
    reply(channel, { kind: "ack", body: { id } });
    inflight.set(key, { channel, id, parts: [], docChunks: 0 });
    const p = ensurePort();
    const docChunks = bytes ? Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES)) : 0;
    p.postMessage({ type: "request", key, method, params: params ?? {}, docChunks, docSize: bytes ? bytes.length : 0 });
    for (let i = 0; i < docChunks; i++) {
      p.postMessage({ type: "chunk", key, index: i, b64: toBase64(bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)) });
    }
  });

  // Exposed for the unit tests that run this file in a sandbox; a page cannot see a content script's globals.
  globalThis.__sealbridgeBridgeForTests = { toBase64, fromBase64, isPageRequest };
})();
