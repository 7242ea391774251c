// The one WebSocket to the local agent: find it (native messaging, else the stored pairing), authenticate
// with the pairing secret (HMAC over the agent's nonce, and check the agent's proof back), JSON-RPC calls,
// documents as binary frames, events, keepalive and reconnect with backoff. Protocol: docs/protocol.md.

const ext = globalThis.browser ?? globalThis.chrome;
export const NATIVE_HOST = "cn.sealbridge.agent";
const KEEPALIVE_MS = 20_000; // Chrome stops an idle service worker after 30 s; WebSocket traffic resets it
const CHUNK_BYTES = 4 * 1024 * 1024;
const MAGIC = [0x53, 0x42]; // "SB"
const KIND_UPLOAD = 1;
const KIND_RESULT = 2;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));

async function hmacHex(secretHex, parts) {
  const enc = new TextEncoder();
  const pieces = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const total = pieces.reduce((n, p) => n + p.length, 0) + pieces.length - 1;
  const msg = new Uint8Array(total);
  let off = 0;
  pieces.forEach((p, i) => {
    if (i) msg[off++] = 0;
    msg.set(p, off);
    off += p.length;
  });
  const key = await crypto.subtle.importKey("raw", unhex(secretHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hex(new Uint8Array(await crypto.subtle.sign("HMAC", key, msg)));
}

export function packChunk(kind, docIdHex, index, last, payload) {
  const frame = new Uint8Array(25 + payload.length);
  const view = new DataView(frame.buffer);
  frame.set(MAGIC, 0);
  frame[2] = 1;
  frame[3] = kind;
  frame.set(unhex(docIdHex), 4);
  view.setUint32(20, index);
  frame[24] = last ? 1 : 0;
  frame.set(payload, 25);
  return frame;
}

export function unpackChunk(frame) {
  const bytes = new Uint8Array(frame);
  if (bytes.length < 25 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== 1) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { kind: bytes[3], docId: hex(bytes.subarray(4, 20)), index: view.getUint32(20), last: (bytes[24] & 1) === 1, payload: bytes.subarray(25) };
}

export class AgentError extends Error {
  constructor(data) {
    super(data?.message_en ?? "agent error");
    this.data = data;
  }
}

export class AgentClient {
  constructor({ onEvent = () => {}, onState = () => {} } = {}) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.ws = null;
    this.ready = null;
    this.pending = new Map();
    this.results = new Map(); // doc id -> {parts, done}
    this.seq = 0;
    this.backoff = 500;
    this.info = { connected: false };
  }

  /** Where the agent is and the secret: native messaging first, then the pairing stored in options. */
  async locate() {
    try {
      const origin = new URL(ext.runtime.getURL("/")).origin;
      const reply = await ext.runtime.sendNativeMessage(NATIVE_HOST, { type: "getPairing", origin });
      if (reply?.type === "pairing" && reply.port && reply.secret) {
        await ext.storage.local.set({ pairing: { port: reply.port, secret: reply.secret, via: "native" } });
        return reply;
      }
    } catch {
      // no native host installed for this browser: fall back to the pairing code
    }
    const { pairing } = await ext.storage.local.get("pairing");
    if (pairing?.port && pairing?.secret) return pairing;
    throw new AgentError({ code: "AGENT_UNAVAILABLE", message_en: "The SealBridge agent is not paired", message_zh: "尚未与本地服务配对" });
  }

  connect() {
    this.ready ??= this._open().catch((e) => {
      this.ready = null;
      this.info = { connected: false, error: e.data?.code ?? String(e.message) };
      this.onState(this.info);
      throw e;
    });
    return this.ready;
  }

  async _open() {
    const { port, secret } = await this.locate();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1`);
    ws.binaryType = "arraybuffer";
    const origin = new URL(ext.runtime.getURL("/")).origin;
    await new Promise((resolve, reject) => {
      let authed = false;
      ws.onerror = () => reject(new AgentError({ code: "AGENT_UNAVAILABLE", message_en: "Cannot reach the SealBridge agent", message_zh: "无法连接本地服务" }));
      ws.onclose = () => {
        if (!authed) reject(new AgentError({ code: "AGENT_UNAVAILABLE", message_en: "The agent closed the connection", message_zh: "本地服务关闭了连接" }));
        this._closed();
      };
      ws.onmessage = async (ev) => {
        if (typeof ev.data !== "string") return this._binary(ev.data);
        const msg = JSON.parse(ev.data);
        if (!authed && msg.method === "auth.challenge") {
          const clientNonce = hex(crypto.getRandomValues(new Uint8Array(32)));
          const nonce = unhex(msg.params.nonce);
          const mac = await hmacHex(secret, ["sealbridge/v1 client", nonce, unhex(clientNonce), origin]);
          this.ws = ws;
          try {
            const res = await this.call("auth", { client_nonce: clientNonce, mac });
            const expected = await hmacHex(secret, ["sealbridge/v1 server", nonce, unhex(clientNonce), origin]);
            if (res.server_mac !== expected) throw new AgentError({ code: "UNAUTHENTICATED", message_en: "The agent failed to prove it holds the pairing secret", message_zh: "本地服务身份验证失败" });
            authed = true;
            const hello = await this.call("hello", { client: "sealbridge-extension", client_version: ext.runtime.getManifest().version, protocol: 1 });
            this.info = { connected: true, version: hello.version, capabilities: hello.capabilities, sites: hello.sites };
            this.backoff = 500;
            this.keepalive = setInterval(() => this.call("hello", {}).catch(() => {}), KEEPALIVE_MS);
            this.onState(this.info);
            resolve();
          } catch (e) {
            ws.close();
            reject(e);
          }
          return;
        }
        this._text(msg);
      };
    });
  }

  _closed() {
    clearInterval(this.keepalive);
    this.ws = null;
    this.ready = null;
    for (const { reject } of this.pending.values()) reject(new AgentError({ code: "AGENT_UNAVAILABLE", message_en: "The agent connection was lost", message_zh: "与本地服务的连接已断开" }));
    this.pending.clear();
    this.results.clear();
    if (this.info.connected) {
      this.info = { connected: false };
      this.onState(this.info);
      setTimeout(() => this.connect().catch(() => {}), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 30_000);
    }
  }

  _text(msg) {
    if (msg.method && msg.id === undefined) return this.onEvent(msg.method, msg.params);
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    this.pending.delete(msg.id);
    if (msg.error) entry.reject(new AgentError(msg.error.data ?? { code: "INTERNAL", message_en: msg.error.message, message_zh: "内部错误" }));
    else entry.resolve(msg.result);
  }

  _binary(buf) {
    const chunk = unpackChunk(buf);
    if (!chunk || chunk.kind !== KIND_RESULT) return;
    const entry = this.results.get(chunk.docId) ?? { parts: [] };
    entry.parts.push(chunk.payload.slice());
    this.results.set(chunk.docId, entry);
  }

  /** The bytes of a result document named by a docOut, once all its chunks are in (they precede the answer). */
  takeResult(docOut) {
    const entry = this.results.get(docOut.id);
    this.results.delete(docOut.id);
    if (!entry || entry.parts.length !== docOut.chunks) throw new AgentError({ code: "INTERNAL", message_en: "result document incomplete", message_zh: "结果文档不完整" });
    const out = new Uint8Array(docOut.size);
    let off = 0;
    for (const p of entry.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  call(method, params = {}) {
    if (!this.ws) return Promise.reject(new AgentError({ code: "AGENT_UNAVAILABLE", message_en: "Not connected to the agent", message_zh: "未连接本地服务" }));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  /** Send a document as binary frames; returns the docRef to name it in the next call. */
  upload(bytes, name) {
    const id = hex(crypto.getRandomValues(new Uint8Array(16)));
    const n = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
    for (let i = 0; i < n; i++) this.ws.send(packChunk(KIND_UPLOAD, id, i, i === n - 1, bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)));
    const ref = { id, size: bytes.length };
    if (name) ref.name = String(name).slice(0, 255);
    return ref;
  }
}
