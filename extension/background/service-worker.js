// Service worker: routes page requests (through the content-script bridge) and the extension's own pages to
// the agent. The requesting origin always comes from the browser (port.sender), never from a message; a page
// whose top-level or frame origin is not allowed gets ORIGIN_NOT_ALLOWED and no window opens.
import { AgentClient, AgentError } from "./agent-client.js";
import { decide, parsePairingCode } from "./policy.js";
import { Reassembler, chunkCount, chunksOf } from "../common/chunks.js";

const ext = globalThis.browser ?? globalThis.chrome;
const PAGE_METHODS = new Set(["detect", "stamp", "verify", "seals.list"]);
const ports = new Set();
const approvals = new Map(); // request_id -> {params, windowId}
const pendingDocs = new Map(); // id -> {name, bytes} (context-menu verify)

const err = (code, en, zh, extra = {}) => ({ code, message_en: en, message_zh: zh, ...extra });

function broadcast(event, data, { pagesToo = true } = {}) {
  for (const p of ports) {
    if (p.kind === "ui" || pagesToo) p.port.postMessage({ type: "event", event, data });
  }
}

const agent = new AgentClient({
  onEvent(method, params) {
    if (method === "approval.required") openApproval(params);
    else if (method === "approval.closed") closeApproval(params.request_id);
    else if (method === "token.inserted") broadcast("token", { type: "inserted", token: params.token.token_id, label: params.token.label });
    else if (method === "token.removed") broadcast("token", { type: "removed", token: params.token_id });
    else if (method === "progress") broadcast("progress", params, { pagesToo: false });
  },
  onState: (info) => broadcast("agent", info, { pagesToo: false }),
});

async function openApproval(params) {
  const win = await ext.windows.create({ url: ext.runtime.getURL(`ui/approve.html?req=${params.request_id}`), type: "popup", width: 960, height: 860 });
  approvals.set(params.request_id, { params, windowId: win.id });
}

function closeApproval(requestId) {
  const a = approvals.get(requestId);
  approvals.delete(requestId);
  if (a?.windowId !== undefined) ext.windows.remove(a.windowId).catch(() => {});
}

async function sitePolicy() {
  let managed = {};
  try {
    managed = (await ext.storage.managed.get(["allowedOrigins", "deniedOrigins"])) ?? {};
  } catch {
    // no managed storage (no policy installed, or Firefox without a policy): the user's list alone
  }
  const { allowedOrigins = [] } = await ext.storage.local.get("allowedOrigins");
  return { managedAllowed: managed.allowedOrigins ?? [], managedDenied: managed.deniedOrigins ?? [], userAllowed: allowedOrigins };
}

function originsOf(sender) {
  const frame = sender.origin ?? new URL(sender.url).origin;
  const top = sender.tab?.url ? new URL(sender.tab.url).origin : frame;
  return { top, frame };
}

async function withAgent(fn) {
  await agent.connect();
  return fn();
}

// -- page requests (from the bridge) ---------------------------------------------------------------------------

async function pageRequest(origin, method, params, bytes) {
  if (method === "detect") {
    await agent.connect().catch(() => {});
    return { result: { version: ext.runtime.getManifest().version, agent: agent.info.connected ? { connected: true, version: agent.info.version } : { connected: false } } };
  }
  if (decide(origin, await sitePolicy()) !== "allowed") {
    throw new AgentError(err("ORIGIN_NOT_ALLOWED", "This site is not allowed to use electronic seals", "该网站未被允许使用电子印章", { detail: origin.top }));
  }
  return withAgent(async () => {
    if (method === "seals.list") return { result: await agent.call("seals.list", { origin }) };
    if (!bytes) throw new AgentError(err("BAD_REQUEST", "a document is required", "缺少文档"));
    const document = agent.upload(bytes, params.name);
    if (method === "verify") return { result: await agent.call("verify", { origin, document }) };
    const call = { origin, document, placements: params.placements };
    if (params.seal) call.seal_id = params.seal;
    if (params.reason) call.options = { reason: params.reason };
    const res = await agent.call("stamp", call);
    return { result: { signature_ids: res.signature_ids, pages: res.pages, seal_id: res.seal_id, report: null }, document: agent.takeResult(res.document) };
  });
}

// -- the extension's own pages ------------------------------------------------------------------------------------

async function uiRequest(method, params, bytes) {
  const approval = params.req ? approvals.get(params.req) : null;
  switch (method) {
    case "approval.get": {
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      const p = approval.params;
      return { result: { origin: p.origin.top, frame_origin: p.origin.frame, name: p.document.name, pages: p.document.page_count, size: p.document.size, sm3: p.document.sm3, format: p.document.format, seal: p.seal_id, site_policy: p.site_policy } };
    }
    case "approval.seals":
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      return { result: { seals: approval.params.seals } };
    case "approval.preview": {
      const res = await withAgent(() => agent.call("preview", { request_id: params.req, seal_id: params.seal }));
      return { result: { pages: res.images.map((i) => ({ page: i.page, png_base64: i.png_base64 })), page_count: res.page_count } };
    }
    case "approval.approve": {
      const call = { request_id: params.req, seal_id: params.seal };
      if (params.pin) call.pin = params.pin;
      return { result: await withAgent(() => agent.call("approve", call)) };
    }
    case "approval.cancel":
      return { result: await withAgent(() => agent.call("cancel", { request_id: params.req })) };
    case "verify": {
      // The user's own file, dropped on the extension's page: no web origin asks, so the extension speaks
      // for itself with its own origin, which the agent knows from the authenticated connection.
      return withAgent(async () => ({ result: await agent.call("verify", { origin: { top: "extension", frame: "extension" }, document: agent.upload(bytes, params.name) }) }));
    }
    case "status": {
      await agent.connect().catch(() => {});
      const tokens = agent.info.connected ? (await agent.call("tokens.list", {}).catch(() => ({ tokens: [] }))).tokens : [];
      const policy = await sitePolicy();
      const { pairing } = await ext.storage.local.get("pairing");
      return { result: { agent: agent.info, paired: !!pairing, tokens, sites: { user: policy.userAllowed, managed: policy.managedAllowed } } };
    }
    case "sites.add":
    case "sites.remove": {
      const { allowedOrigins = [] } = await ext.storage.local.get("allowedOrigins");
      const next = method === "sites.add" ? [...new Set([...allowedOrigins, params.origin])] : allowedOrigins.filter((o) => o !== params.origin);
      await ext.storage.local.set({ allowedOrigins: next });
      return { result: { sites: next } };
    }
    case "pair": {
      const pairing = parsePairingCode(params.code ?? "");
      await ext.storage.local.set({ pairing: { ...pairing, via: "code" } });
      agent.ws?.close();
      await agent.connect();
      return { result: { paired: true } };
    }
    case "pending.take": {
      const doc = pendingDocs.get(params.id);
      pendingDocs.delete(params.id);
      if (!doc) throw new AgentError(err("NOT_FOUND", "Nothing to verify", "没有待验证的文档"));
      return { result: { name: doc.name }, document: doc.bytes };
    }
    default:
      throw new AgentError(err("BAD_REQUEST", `unknown method ${method}`, "未知的调用"));
  }
}

// -- ports and chunked documents ------------------------------------------------------------------------------

function reply(port, key, outcome) {
  const bytes = outcome.document ?? null;
  port.postMessage({ type: "response", key, result: outcome.result, error: outcome.error, docChunks: bytes ? chunkCount(bytes.length) : 0 });
  if (bytes) for (const c of chunksOf(bytes)) port.postMessage({ type: "chunk", key, ...c });
}

ext.runtime.onConnect.addListener((port) => {
  const sender = port.sender ?? {};
  if (sender.id !== ext.runtime.id) return port.disconnect();
  let kind;
  if (port.name === "sealbridge-bridge" && sender.tab) kind = "page";
  else if (port.name === "sealbridge-ui" && sender.url?.startsWith(ext.runtime.getURL("ui/"))) kind = "ui";
  else return port.disconnect();
  const entry = { port, kind };
  ports.add(entry);
  const incoming = new Map();
  port.onDisconnect.addListener(() => ports.delete(entry));
  port.onMessage.addListener(async (msg) => {
    let job = incoming.get(msg.key);
    try {
      if (msg.type === "request") {
        if (kind === "page" && !PAGE_METHODS.has(msg.method)) throw new AgentError(err("BAD_REQUEST", "method not available to pages", "网页不能调用该功能"));
        job = { method: msg.method, params: msg.params ?? {}, doc: msg.docChunks ? new Reassembler(msg.docChunks, msg.docSize) : null };
        incoming.set(msg.key, job);
        if (job.doc) return;
      } else if (msg.type === "chunk" && job?.doc) {
        if (!job.doc.add(msg.index, msg.b64)) return;
      } else {
        return;
      }
      incoming.delete(msg.key);
      const bytes = job.doc ? job.doc.bytes() : null;
      const outcome = kind === "page" ? await pageRequest(originsOf(sender), job.method, job.params, bytes) : await uiRequest(job.method, job.params, bytes);
      reply(port, msg.key, outcome);
    } catch (e) {
      incoming.delete(msg.key);
      const data = e?.data?.code ? e.data : e instanceof RangeError ? err(e.message, e.message, e.message) : err("INTERNAL", String(e?.message ?? e), "内部错误");
      reply(port, msg.key, { error: data });
    }
  });
});

// -- context menu: verify a linked PDF/OFD --------------------------------------------------------------------

ext.runtime.onInstalled.addListener(() => {
  ext.contextMenus.create({
    id: "sealbridge-verify-link",
    title: ext.i18n.getMessage("menuVerify"),
    contexts: ["link"],
    targetUrlPatterns: ["*://*/*.pdf", "*://*/*.ofd", "*://*/*.PDF", "*://*/*.OFD"],
  });
});

ext.contextMenus.onClicked.addListener(async (info) => {
  if (info.menuItemId !== "sealbridge-verify-link") return;
  const url = new URL(info.linkUrl);
  if (url.protocol !== "https:" && url.protocol !== "http:") return;
  // The user chose this link; fetch it with their session only after they grant access to that site.
  const granted = await ext.permissions.request({ origins: [`${url.origin}/*`] }).catch(() => false);
  if (!granted) return;
  const res = await fetch(url, { credentials: "include" });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const id = crypto.randomUUID();
  pendingDocs.set(id, { name: decodeURIComponent(url.pathname.split("/").pop() || "document"), bytes });
  ext.tabs.create({ url: ext.runtime.getURL(`ui/verify.html?doc=${id}`) });
});
