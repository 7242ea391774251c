// Service worker: routes page requests (through the content-script bridge) and the extension's own pages to
// the agent. The requesting origin always comes from the browser (port.sender), never from a message; a page
// whose top-level or frame origin is not allowed gets ORIGIN_NOT_ALLOWED and no window opens.
import { AgentClient, AgentError } from "./agent-client.js";
import { decide, parsePairingCode, tokenEvent } from "./policy.js";
import { Reassembler, chunkCount, chunksOf } from "../common/chunks.js";
import { batchCall, batchReply, splitDocuments } from "./batch.js";

const ext = globalThis.browser ?? globalThis.chrome;
const PAGE_METHODS = new Set(["detect", "stamp", "stamp.batch", "verify", "seals.list"]);
const ports = new Set();
const approvals = new Map(); // request_id -> {params, windowId}
const requestTops = new Map(); // request_id -> top-level origin that asked, for its progress events
const pendingDocs = new Map(); // id -> {name, bytes} (context-menu verify)

const err = (code, en, zh, extra = {}) => ({ code, message_en: en, message_zh: zh, ...extra });

const tokenLabels = new Map(); // token_id -> label, so a removal can name the key

/** Events go to the extension's own pages, and to pages only on sites allowed to use seals (a token's
 * comings and goings are not every site's business). */
async function broadcast(event, data, { pagesToo = true } = {}) {
  const policy = pagesToo ? await sitePolicy() : null;
  for (const p of ports) {
    if (p.kind === "ui" || (pagesToo && decide(p.origin, policy) === "allowed")) p.port.postMessage({ type: "event", event, data });
  }
}

const agent = new AgentClient({
  onEvent(method, params) {
    if (method === "approval.required") openApproval(params);
    else if (method === "batch.approval.required") openApproval(params, "ui/approve-batch.html");
    else if (method === "batch.document") relayBatchDocument(params);
    else if (method === "approval.closed") closeApproval(params.request_id, params.outcome);
    else if (method === "token.inserted" || method === "token.removed") broadcast("token", tokenEvent(method, params, tokenLabels));
    else if (method === "progress") relayProgress(params);
  },
  onState(info) {
    broadcast("agent", info, { pagesToo: false });
    // Learn the labels of the tokens already inserted, so that pulling one can name it.
    if (info.connected) {
      agent
        .call("tokens.list", {})
        .then(({ tokens }) => tokens.forEach((tk) => tokenLabels.set(tk.token_id, tk.label)))
        .catch(() => {});
    }
  },
});

async function openApproval(params, page = "ui/approve.html") {
  // Known before the window exists: the window's first call (approval.get) may come before create() returns.
  const entry = { params, windowId: undefined };
  approvals.set(params.request_id, entry);
  requestTops.set(params.request_id, params.origin.top);
  const win = await ext.windows.create({ url: ext.runtime.getURL(`${page}?req=${params.request_id}`), type: "popup", width: 960, height: 900 });
  entry.windowId = win.id;
  if (!approvals.has(params.request_id)) ext.windows.remove(win.id).catch(() => {}); // closed meanwhile
}

/** The agent ended the request. Approved or cancelled: the window goes. Failed (PIN locked, key gone, seal
 * revoked…): the window stays to show why, and offers only to close. */
function closeApproval(requestId, outcome) {
  const a = approvals.get(requestId);
  approvals.delete(requestId);
  if (outcome !== "approved") requestTops.delete(requestId);
  if (outcome === "failed") {
    for (const p of ports) if (p.kind === "ui") p.port.postMessage({ type: "event", event: "approval.closed", data: { request_id: requestId, outcome } });
    return;
  }
  if (a?.windowId !== undefined) ext.windows.remove(a.windowId).catch(() => {});
}

// The user closed the approval window itself (not the Cancel button): that is a cancel, not a 5-minute wait.
ext.windows.onRemoved.addListener((windowId) => {
  for (const [requestId, a] of approvals) {
    if (a.windowId !== windowId) continue;
    approvals.delete(requestId);
    agent.call("cancel", { request_id: requestId }).catch(() => {});
  }
});

/** Progress of a stamp goes to the extension's pages and to the pages of the site that asked for it. */
function relayProgress(params) {
  const top = requestTops.get(params.request_id);
  if (params.phase === "sending") requestTops.delete(params.request_id);
  for (const p of ports) {
    if (p.kind === "ui" || (top && p.origin?.top === top)) p.port.postMessage({ type: "event", event: "progress", data: params });
  }
}

/** A batch's document started or finished: its result reference is kept for the answer to the page, and the
 * event (without the reference) goes to the extension's pages and the pages of the site that asked. */
const batchDocs = new Map(); // request_id -> Map(index -> docOut)
function relayBatchDocument(params) {
  const { document: docOut, ...event } = params;
  if (docOut) {
    if (!batchDocs.has(params.request_id)) batchDocs.set(params.request_id, new Map());
    batchDocs.get(params.request_id).set(params.index, docOut);
  }
  const top = requestTops.get(params.request_id);
  for (const p of ports) {
    if (p.kind === "ui" || (top && p.origin?.top === top)) p.port.postMessage({ type: "event", event: "batch", data: event });
  }
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
    // Answer promptly (the SDK decides "not installed" after DETECT_TIMEOUT_MS): finding the agent through
    // native messaging may take longer, and the next call will wait for it anyway.
    await Promise.race([agent.connect().catch(() => {}), new Promise((r) => setTimeout(r, 700))]);
    return { result: { version: ext.runtime.getManifest().version, agent: agent.info.connected ? { connected: true, version: agent.info.version } : { connected: false } } };
  }
  if (decide(origin, await sitePolicy()) !== "allowed") {
    throw new AgentError(err("ORIGIN_NOT_ALLOWED", "This site is not allowed to use electronic seals", "该网站未被允许使用电子印章", { detail: origin.top }));
  }
  return withAgent(async () => {
    if (method === "seals.list") return { result: await agent.call("seals.list", { origin }) };
    if (!bytes) throw new AgentError(err("BAD_REQUEST", "a document is required", "缺少文档"));
    if (method === "stamp.batch") {
      const parts = splitDocuments(bytes, params.documents);
      const refs = parts.map((part, i) => agent.upload(part, params.documents[i].name));
      const res = await agent.call("stamp.batch", batchCall(origin, params, refs));
      const docs = batchDocs.get(res.batch_id) ?? new Map();
      batchDocs.delete(res.batch_id);
      requestTops.delete(res.batch_id);
      return batchReply(res, docs, (docOut) => agent.takeResult(docOut));
    }
    const document = agent.upload(bytes, params.name);
    if (method === "verify") return { result: (await agent.call("verify", { origin, document })).report };
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
      return { result: { origin: p.origin.top, frame_origin: p.origin.frame, name: p.document.name, pages: p.document.page_count, size: p.document.size, sm3: p.document.sm3, format: p.document.format, seal: p.seal_id, site_policy: p.site_policy, placements: p.placements } };
    }
    case "approval.seals": {
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      // The seals present now, with their pictures, asked on behalf of the origin whose request is open (the
      // agent already let that origin stamp); the list sent with the request is the fallback.
      const listed = await withAgent(() => agent.call("seals.list", { origin: approval.params.origin, include_pictures: true })).catch(() => null);
      return { result: { seals: listed?.seals ?? approval.params.seals } };
    }
    case "batch.get": {
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      const p = approval.params;
      return { result: { origin: p.origin.top, frame_origin: p.origin.frame, documents: p.documents, seal: p.seal_id, site_policy: p.site_policy } };
    }
    case "approval.preview": {
      const call = { request_id: params.req, seal_id: params.seal };
      if (Number.isInteger(params.index)) call.index = params.index;
      if (Array.isArray(params.pages) && params.pages.length) call.pages = params.pages.slice(0, 20);
      const res = await withAgent(() => agent.call("preview", call));
      return { result: { pages: res.images.map((i) => ({ page: i.page, png_base64: i.png_base64 })), page_count: res.page_count } };
    }
    case "approval.approve": {
      const call = { request_id: params.req, seal_id: params.seal };
      if (params.pin) call.pin = params.pin;
      if (params.remember === true && approval?.params.site_policy === "asks") call.remember_site = true;
      if (Array.isArray(params.include)) call.include = params.include.filter(Number.isInteger);
      const result = await withAgent(() => agent.call("approve", call));
      // Approved: the window closing now is no cancel (for a batch it would stop the documents not yet signed).
      approvals.delete(params.req);
      return { result };
    }
    case "approval.cancel":
      return { result: await withAgent(() => agent.call("cancel", { request_id: params.req })) };
    case "verify": {
      // The user's own file, dropped on the extension's page: no web origin asks, so the extension speaks
      // for itself with its own origin, which the agent knows from the authenticated connection.
      // No page asks: the call carries no page origin and the agent records the extension's own (protocol:
      // `verify` without `origin` is the extension's own request).
      return withAgent(async () => ({ result: (await agent.call("verify", { document: agent.upload(bytes, params.name) })).report }));
    }
    case "status": {
      await agent.connect().catch(() => {});
      const tokens = agent.info.connected ? (await agent.call("tokens.list", {}).catch(() => ({ tokens: [] }))).tokens : [];
      for (const tk of tokens) tokenLabels.set(tk.token_id, tk.label);
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
  const entry = { port, kind, origin: kind === "page" ? originsOf(sender) : null };
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
