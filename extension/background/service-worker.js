// Service worker: routes page requests (through the content-script bridge) and the extension's own pages to
// the agent. The requesting origin always comes from the browser (port.sender), never from a message. A site
// neither allowed nor denied gets the extension's own prompt (allow once / always / deny); the answer is kept
// here, the one list there is, and goes to the agent with each call as the origin's `grant`.
import { AgentClient, AgentError } from "./agent-client.js";
import { decide, decisionKey, parsePairingCode, tokenEvent } from "./policy.js";
import { Reassembler, chunkCount, chunksOf } from "../common/chunks.js";
import { batchCall, batchReply, splitDocuments } from "./batch.js";

const ext = globalThis.browser ?? globalThis.chrome;
const PAGE_METHODS = new Set(["detect", "stamp", "stamp.batch", "verify", "seals.list"]);
const ports = new Set();
const approvals = new Map(); // request_id -> {params, windowId}
const requestTops = new Map(); // request_id -> top-level origin that asked, for its progress events
const pendingDocs = new Map(); // id -> {name, bytes} (context-menu verify)
const prompts = new Map(); // prompt id -> {origin, method, resolve, windowId}; one per site at a time
const promptsBySite = new Map(); // decision key -> the open prompt's promise
const grantsByTop = new Map(); // top origin -> the grant its open stamp was sent with (for the window's calls)
const jobs = new Map(); // job id -> {callId, requestId, waiters[], windowId, error} (windows opened before approval)
const EARLY_WINDOW_BYTES = 5 * 1024 * 1024; // from this size the window opens at once, "preparing the preview"
const PROMPT_SIZE = { width: 460, height: 560 };

const err = (code, en, zh, extra = {}) => ({ code, message_en: en, message_zh: zh, ...extra });

const tokenLabels = new Map(); // token_id -> label, so a removal can name the key

/** Events go to the extension's own pages, and to pages only on sites allowed to use seals (a token's
 * comings and goings are not every site's business). */
async function broadcast(event, data, { pagesToo = true } = {}) {
  const policy = pagesToo ? await sitePolicy() : null;
  for (const p of ports) {
    if (p.kind === "ui" || (pagesToo && decide(p.origin, policy).verdict === "allowed")) p.port.postMessage({ type: "event", event, data });
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
    if (info.sites) ext.storage.local.set({ agentSites: info.sites }).catch(() => {});
    // Learn the labels of the tokens already inserted, so that pulling one can name it.
    if (info.connected) {
      agent
        .call("tokens.list", {})
        .then(({ tokens }) => tokens.forEach((tk) => tokenLabels.set(tk.token_id, tk.label)))
        .catch(() => {});
    }
  },
});

/** The approval window's size: large enough for the preview, never larger than the screen it opens on. */
async function approvalSize() {
  const full = { width: 960, height: 900 };
  try {
    const last = await ext.windows.getLastFocused();
    if (last?.width && last?.height) return { width: Math.min(full.width, Math.max(360, last.width)), height: Math.min(full.height, Math.max(600, last.height)) };
  } catch {
    // no window to measure (all closed): the default
  }
  return full;
}

async function openApproval(params, page = "ui/approve.html") {
  // Known before the window exists: the window's first call (approval.get) may come before create() returns.
  const entry = { params, windowId: undefined };
  approvals.set(params.request_id, entry);
  requestTops.set(params.request_id, params.origin.top);
  const job = [...jobs.values()].find((j) => j.callId === params.call_id);
  if (job) {
    // The window is already open, "preparing the preview": it takes this request over.
    job.requestId = params.request_id;
    entry.windowId = job.windowId;
    if (job.closed) {
      // the user closed the "preparing" window: that is a cancel
      approvals.delete(params.request_id);
      agent.call("cancel", { request_id: params.request_id }).catch(() => {});
      return;
    }
    for (const w of job.waiters.splice(0)) w.resolve(params.request_id);
    return;
  }
  const win = await ext.windows.create({ url: ext.runtime.getURL(`${page}?req=${params.request_id}`), type: "popup", ...(await approvalSize()) });
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
// A prompt window closed without an answer decides nothing (the call is cancelled, the site asked again).
ext.windows.onRemoved.addListener((windowId) => {
  for (const [id, pr] of prompts) if (pr.windowId === windowId) settlePrompt(id, "dismiss");
  for (const job of jobs.values()) if (job.windowId === windowId && !job.requestId) job.closed = true;
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

/** The administrator's policy (storage.managed, and the agent's config as its hello reports it) and the
 * user's decisions. A list from an older version (`allowedOrigins`) becomes "always allow" decisions once. */
async function sitePolicy() {
  let managed = {};
  try {
    managed = (await ext.storage.managed.get(["allowedOrigins", "deniedOrigins", "promptForSites"])) ?? {};
  } catch {
    // no managed storage (no policy installed, or Firefox without a policy): the agent's word and the user's
  }
  // The agent's last word while it is away (restarting): an administrator's site stays what it was.
  const agentSites = agent.info.sites ?? (await ext.storage.local.get("agentSites")).agentSites ?? { prompt: true, allowed: [], denied: [] };
  const stored = await ext.storage.local.get(["siteDecisions", "allowedOrigins"]);
  let decisions = stored.siteDecisions ?? {};
  if (Array.isArray(stored.allowedOrigins)) {
    const at = new Date().toISOString();
    for (const o of stored.allowedOrigins) decisions[o] ??= { decision: "allow", at };
    await ext.storage.local.set({ siteDecisions: decisions });
    await ext.storage.local.remove("allowedOrigins");
  }
  return {
    managedAllowed: [...(managed.allowedOrigins ?? []), ...agentSites.allowed],
    managedDenied: [...(managed.deniedOrigins ?? []), ...agentSites.denied],
    prompt: managed.promptForSites !== false && agentSites.prompt !== false,
    decisions,
  };
}

async function storeDecision(key, decision) {
  const { siteDecisions = {} } = await ext.storage.local.get("siteDecisions");
  if (decision === null) delete siteDecisions[key];
  else siteDecisions[key] = { decision, at: new Date().toISOString() };
  await ext.storage.local.set({ siteDecisions });
}

function settlePrompt(id, answer) {
  const pr = prompts.get(id);
  if (!pr) return false;
  prompts.delete(id);
  pr.resolve(answer);
  if (pr.windowId !== undefined && answer !== "dismiss") ext.windows.remove(pr.windowId).catch(() => {});
  return true;
}

/** Ask the user about a site in the extension's own prompt window → "once" | "always" | "deny" | "dismiss".
 * Calls from the same site while the prompt is open wait for the same answer. */
function promptSite(origin, method) {
  const key = decisionKey(origin);
  if (promptsBySite.has(key)) return promptsBySite.get(key);
  const id = crypto.randomUUID();
  const answer = new Promise((resolve) => prompts.set(id, { origin, method, resolve, windowId: undefined }));
  promptsBySite.set(key, answer);
  answer.finally(() => promptsBySite.delete(key));
  ext.windows
    .create({ url: ext.runtime.getURL(`ui/site.html?p=${id}`), type: "popup", ...PROMPT_SIZE })
    .then((win) => {
      const pr = prompts.get(id);
      if (pr) pr.windowId = win.id;
      else ext.windows.remove(win.id).catch(() => {});
    })
    .catch(() => settlePrompt(id, "dismiss"));
  return answer;
}

const notAllowed = (origin, why) =>
  new AgentError(err("ORIGIN_NOT_ALLOWED", "This site is not allowed to use electronic seals", "该网站未被允许使用电子印章", { detail: `${origin.top}${why ? ` (${why})` : ""}` }));

/** The grant a page call goes to the agent with, asking the user first when the site is new to them. */
async function grantFor(origin, method) {
  const reached = await agent.connect().then(() => null, (e) => e); // its hello brings the administrator's policy
  const { verdict, grant, why } = decide(origin, await sitePolicy());
  if (verdict === "allowed") return grant;
  if (verdict === "denied") throw notAllowed(origin, why);
  if (reached) throw reached; // no question to the user while nothing could be done with the answer
  const answer = await promptSite(origin, method);
  if (answer === "dismiss") throw new AgentError(err("USER_CANCELLED", "The user closed the site prompt without an answer", "用户未作选择即关闭了网站授权窗口"));
  if (answer === "deny") {
    await storeDecision(decisionKey(origin), "deny");
    throw notAllowed(origin, "user");
  }
  if (answer === "always") await storeDecision(decisionKey(origin), "allow");
  return answer;
}

/** What detect() tells a page about its own site, without asking the user: allowed / ask / denied. */
async function siteState(origin) {
  return decide(origin, await sitePolicy()).verdict;
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

async function pageRequest(origin, method, params, bytes, port = null, key = null) {
  if (method === "detect") {
    // Answer promptly (the SDK decides "not installed" after DETECT_TIMEOUT_MS): finding the agent through
    // native messaging may take longer, and the next call will wait for it anyway.
    await Promise.race([agent.connect().catch(() => {}), new Promise((r) => setTimeout(r, 700))]);
    const { pairing } = await ext.storage.local.get("pairing");
    return {
      result: {
        version: ext.runtime.getManifest().version,
        agent: agent.info.connected ? { connected: true, version: agent.info.version } : { connected: false },
        paired: !!pairing,
        site: await siteState(origin),
      },
    };
  }
  const grant = await grantFor(origin, method);
  const granted = { ...origin, grant };
  return withAgent(async () => {
    if (method === "seals.list") return { result: await agent.call("seals.list", { origin: granted }) };
    if (!bytes) throw new AgentError(err("BAD_REQUEST", "a document is required", "缺少文档"));
    if (method === "stamp.batch") {
      const parts = splitDocuments(bytes, params.documents);
      const refs = parts.map((part, i) => agent.upload(part, params.documents[i].name));
      const res = await agent.call("stamp.batch", batchCall(granted, params, refs));
      const docs = batchDocs.get(res.batch_id) ?? new Map();
      batchDocs.delete(res.batch_id);
      requestTops.delete(res.batch_id);
      return batchReply(res, docs, (docOut) => agent.takeResult(docOut));
    }
    if (method === "verify") {
      const document = await uploadWithProgress(port, key, bytes, params.name);
      return { result: (await agent.call("verify", { origin: granted, document })).report };
    }
    // A big document takes seconds to send and read: its window opens now, "preparing the preview".
    const job = bytes.length >= EARLY_WINDOW_BYTES ? await openEarlyWindow() : null;
    grantsByTop.set(origin.top, grant);
    try {
      const document = await uploadWithProgress(port, key, bytes, params.name);
      const call = { origin: granted, document, placements: params.placements };
      if (params.seal) call.seal_id = params.seal;
      if (params.reason) call.options = { reason: params.reason };
      const pending = agent.call("stamp", call);
      if (job) job.callId = agent.seq; // the call's JSON-RPC id: approval.required names it
      const res = await pending;
      return { result: { signature_ids: res.signature_ids, pages: res.pages, seal_id: res.seal_id, report: null }, document: agent.takeResult(res.document) };
    } catch (e) {
      if (job && !job.requestId) failJob(job, e);
      throw e;
    } finally {
      grantsByTop.delete(origin.top);
      if (job) setTimeout(() => jobs.delete(job.id), 60_000);
    }
  });
}

/** Send the document to the agent, telling the page how far it got (the socket's buffer drains as it goes). */
async function uploadWithProgress(port, key, bytes, name) {
  const ref = agent.upload(bytes, name);
  const ws = agent.ws;
  const total = bytes.length;
  const tell = (fraction) => port?.postMessage({ type: "event", event: "progress", data: { phase: "uploading", fraction, key } });
  while (ws && ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) {
    tell(Math.max(0, Math.min(1, 1 - ws.bufferedAmount / total)));
    await new Promise((r) => setTimeout(r, 100));
  }
  tell(1);
  return ref;
}

/** A big document: the window opens now and says it prepares the preview, until the agent asks for approval. */
async function openEarlyWindow() {
  const job = { id: crypto.randomUUID(), callId: null, requestId: null, waiters: [], windowId: undefined, error: null };
  jobs.set(job.id, job);
  const win = await ext.windows.create({ url: ext.runtime.getURL(`ui/approve.html?job=${job.id}`), type: "popup", ...(await approvalSize()) });
  job.windowId = win.id;
  return job;
}

function failJob(job, e) {
  job.error = e?.data ?? err("INTERNAL", String(e?.message ?? e), "内部错误");
  for (const w of job.waiters.splice(0)) w.reject(new AgentError(job.error));
}

/** The request id a window opened early waits for. */
function requestOfJob(jobId) {
  const job = jobs.get(jobId);
  if (!job) return Promise.reject(new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束")));
  if (job.requestId) return Promise.resolve(job.requestId);
  if (job.error) return Promise.reject(new AgentError(job.error));
  return new Promise((resolve, reject) => job.waiters.push({ resolve, reject }));
}

// -- the extension's own pages ------------------------------------------------------------------------------------

async function uiRequest(method, params, bytes) {
  const approval = params.req ? approvals.get(params.req) : null;
  switch (method) {
    case "approval.wait":
      return { result: { req: await requestOfJob(params.job) } };
    case "site.get": {
      const pr = prompts.get(params.p);
      if (!pr) throw new AgentError(err("NOT_FOUND", "This question is no longer open", "该授权请求已结束"));
      return { result: { top: pr.origin.top, frame: pr.origin.frame ?? pr.origin.top, method: pr.method } };
    }
    case "site.decide": {
      if (!["once", "always", "deny"].includes(params.answer) || !settlePrompt(params.p, params.answer)) {
        throw new AgentError(err("NOT_FOUND", "This question is no longer open", "该授权请求已结束"));
      }
      return { result: { ok: true } };
    }
    case "approval.get": {
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      const p = approval.params;
      return { result: { origin: p.origin.top, frame_origin: p.origin.frame, name: p.document.name, pages: p.document.page_count, size: p.document.size, sm3: p.document.sm3, format: p.document.format, seal: p.seal_id, site_policy: p.site_policy, placements: p.placements } };
    }
    case "approval.seals": {
      if (!approval) throw new AgentError(err("NOT_FOUND", "This request is no longer open", "该盖章请求已结束"));
      // The seals present now, with their pictures, asked on behalf of the origin whose request is open (the
      // agent already let that origin stamp); the list sent with the request is the fallback.
      const origin = { ...approval.params.origin, grant: grantsByTop.get(approval.params.origin.top) ?? "once" };
      if (!grantsByTop.has(approval.params.origin.top)) delete origin.grant;
      const listed = await withAgent(() => agent.call("seals.list", { origin, include_pictures: true, include_status: true })).catch(() => null);
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
      return { result: { agent: agent.info, paired: !!pairing, tokens, sites: { decisions: policy.decisions, managed: policy.managedAllowed, managedDenied: policy.managedDenied, prompt: policy.prompt } } };
    }
    case "sites.add":
    case "sites.remove": {
      // The options page: allow a site ahead of its first call, or revoke a decision (the site is asked again).
      await storeDecision(String(params.origin), method === "sites.add" ? "allow" : null);
      return { result: { sites: (await sitePolicy()).decisions } };
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
        const complete = job.doc.add(msg.index, msg.b64);
        // From the first chunk on, the page can show its own bar (the agent's phases follow).
        if (kind === "page") port.postMessage({ type: "event", event: "progress", data: { phase: "receiving", fraction: job.doc.fraction(), key: msg.key } });
        if (!complete) return;
      } else {
        return;
      }
      incoming.delete(msg.key);
      const bytes = job.doc ? job.doc.bytes() : null;
      const outcome = kind === "page" ? await pageRequest(originsOf(sender), job.method, job.params, bytes, port, msg.key) : await uiRequest(job.method, job.params, bytes);
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
