import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, EXTENSION_TIMEOUT_MS, SealBridgeError } from "../sdk/sealbridge.js";
import { FakeWindow, fakeRuntime, loadBridge } from "./fakes.mjs";

const PDF = new TextEncoder().encode("%PDF-1.7\n% a tiny stand-in document\n");

// A service worker double: echoes documents back reversed, answers detect, fails on demand.
function worker(onRequest) {
  const docs = new Map();
  return (msg, send) => {
    if (msg.type === "request") {
      docs.set(msg.key, { req: msg, parts: [] });
      if (msg.docChunks === 0) onRequest(msg, null, send);
    } else if (msg.type === "chunk") {
      const d = docs.get(msg.key);
      d.parts.push(Buffer.from(msg.b64, "base64"));
      if (d.parts.length === d.req.docChunks) onRequest(d.req, Buffer.concat(d.parts), send);
    }
  };
}

/** Wait for a condition the fakes reach through their own timers (not a fixed sleep). */
async function until(cond, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached");
    await new Promise((r) => setImmediate(r));
  }
}

function setup(onRequest) {
  const win = new FakeWindow();
  const rt = fakeRuntime(worker(onRequest));
  loadBridge(win, rt);
  const client = createClient(win, { timeoutMs: 2000 });
  return { win, rt, client };
}

test("detect reports the extension and the agent", async () => {
  const { client } = setup((req, _doc, send) => {
    assert.equal(req.method, "detect");
    send({ type: "response", key: req.key, result: { version: "0.1.0", agent: { connected: true, version: "0.1.0" }, paired: true, site: "ask" } });
  });
  const res = await client.detect();
  // installed, paired and site-allowed are separate facts: a site not yet asked about is not "allowed"
  assert.deepEqual(res, { installed: true, version: "0.1.0", paired: true, agent: { connected: true, version: "0.1.0" }, site: "ask", siteAllowed: false });
});

test("every call without the extension rejects with EXTENSION_NOT_FOUND, within the SDK's presence timeout", async () => {
  assert.ok(EXTENSION_TIMEOUT_MS <= 3000);
  const win = new FakeWindow();
  const client = createClient(win); // the default 10-minute call timeout must not apply
  for (const run of [() => client.listSeals(), () => client.stamp({ document: new Blob([PDF]), placements: [{ type: "at", page: 1, x: 1, y: 1 }] }), () => client.verify(new Blob([PDF]))]) {
    const started = performance.now();
    await assert.rejects(run(), (e) => e.code === "EXTENSION_NOT_FOUND" && e.data.timeout_ms === EXTENSION_TIMEOUT_MS);
    assert.ok(performance.now() - started < 3000);
  }
});

test("an acknowledged call waits for its answer past the presence timeout; progress starts at once", async () => {
  const { client } = setup((req, _doc, send) => {
    setTimeout(() => send({ type: "response", key: req.key, result: { verdict: "valid", seals: [] } }), EXTENSION_TIMEOUT_MS + 200);
  });
  const progress = [];
  client.on("progress", (e) => progress.push(e));
  const report = await client.verify(new Blob([PDF]), { name: "x.pdf" });
  assert.equal(report.verdict, "valid");
  assert.deepEqual(progress[0], { phase: "start", fraction: 0, size: PDF.length });
});

test("detect without the extension says not installed (no content script answers)", async () => {
  const win = new FakeWindow();
  const client = createClient(win);
  const res = await client.detect();
  assert.equal(res.installed, false);
});

test("stamp sends the document through the bridge in chunks and returns a Blob", async () => {
  let seen = null;
  const { client, rt } = setup((req, doc, send) => {
    seen = { req, doc };
    const out = Buffer.concat([doc, Buffer.from("%stamped\n")]);
    send({ type: "response", key: req.key, result: { report: null }, docChunks: 1 });
    send({ type: "chunk", key: req.key, index: 0, b64: out.toString("base64") });
  });
  const res = await client.stamp({ document: new Blob([PDF]), name: "form.pdf", placements: [{ type: "at", page: 1, x: 50, y: 60 }] });
  assert.equal(seen.req.method, "stamp");
  assert.equal(seen.req.params.format, "pdf");
  assert.equal(seen.req.params.name, "form.pdf");
  assert.deepEqual(Buffer.from(seen.doc), Buffer.from(PDF));
  const text = await res.document.text();
  assert.ok(text.endsWith("%stamped\n"));
  assert.equal(res.document.type, "application/pdf");
  // Only JSON-safe messages crossed the runtime port.
  for (const m of rt.ports[0].sent) assert.equal(typeof JSON.stringify(m), "string");
});

test("errors arrive as SealBridgeError with the protocol code and both languages", async () => {
  const { client } = setup((req, _doc, send) => {
    send({
      type: "response",
      key: req.key,
      error: { code: "PIN_INCORRECT", message_en: "The PIN is incorrect", message_zh: "口令错误", retries_left: 4 },
    });
  });
  await assert.rejects(
    client.stamp({ document: PDF, placements: [{ type: "at", page: 1, x: 1, y: 1 }] }),
    (e) => e instanceof SealBridgeError && e.code === "PIN_INCORRECT" && e.messageZh === "口令错误" && e.data.retries_left === 4,
  );
});

test("stamp refuses bad input before anything is sent", async () => {
  const { client, rt } = setup(() => assert.fail("nothing should reach the worker"));
  await assert.rejects(client.stamp({ document: PDF, placements: [] }), (e) => e.code === "PLACEMENT_INVALID");
  await assert.rejects(
    client.stamp({ document: new Uint8Array([1, 2, 3]), placements: [{ type: "at", page: 1, x: 1, y: 1 }] }),
    (e) => e.code === "DOC_UNSUPPORTED",
  );
  assert.equal(rt.ports.length, 0);
});

test("the bridge ignores messages from other windows, other origins and other tags", async () => {
  let calls = 0;
  const win = new FakeWindow();
  const rt = fakeRuntime(worker(() => calls++));
  loadBridge(win, rt);
  const req = { __sealbridge: "request", channel: "abc", id: "1", method: "detect", params: {} };
  const otherFrame = new FakeWindow("https://evil.example");
  win.deliver(req, otherFrame, "https://evil.example"); // from an iframe / opener
  win.deliver(req, win, "https://evil.example"); // right source, wrong origin
  win.deliver({ ...req, __sealbridge: "response" }, win, win.location.origin); // a reply, not a request
  win.deliver({ ...req, channel: "../../x" }, win, win.location.origin); // malformed channel id
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(rt.ports.length, 0);
  assert.equal(calls, 0);
});

test("the bridge answers unknown methods itself and never forwards them", async () => {
  const win = new FakeWindow();
  const rt = fakeRuntime(worker(() => assert.fail("must not be forwarded")));
  loadBridge(win, rt);
  win.deliver({ __sealbridge: "request", channel: "c1", id: "7", method: "sign.raw", params: {} }, win, win.location.origin);
  await new Promise((r) => setTimeout(r, 20));
  const answer = win.posted.find((p) => p.data.__sealbridge === "response");
  assert.equal(answer.data.error.code, "BAD_REQUEST");
  assert.equal(answer.targetOrigin, win.location.origin);
  assert.equal(rt.ports.length, 0);
});

test("the SDK ignores forged replies: wrong channel, or from another window", async () => {
  const win = new FakeWindow();
  const client = createClient(win, { timeoutMs: 300 });
  const pending = client.listSeals();
  await new Promise((r) => setTimeout(r, 5));
  const sent = win.posted.find((p) => p.data.__sealbridge === "request").data;
  const forged = { __sealbridge: "response", id: sent.id, result: { seals: ["forged"] } };
  win.deliver({ ...forged, channel: "someone-else" }, win, win.location.origin);
  win.deliver({ ...forged, channel: sent.channel }, new FakeWindow("https://evil.example"), "https://evil.example");
  await assert.rejects(pending, (e) => e.code === "TIMEOUT");
  // The genuine reply on the right channel from this window is accepted.
  const again = client.listSeals();
  await new Promise((r) => setTimeout(r, 5));
  const req2 = win.posted.filter((p) => p.data.__sealbridge === "request").at(-1).data;
  win.deliver({ __sealbridge: "response", channel: req2.channel, id: req2.id, result: { seals: [] } }, win, win.location.origin);
  assert.deepEqual(await again, []);
});

test("token events reach every subscriber, and a page that only listens announces itself once", async () => {
  const win = new FakeWindow();
  const forwarded = [];
  const rt = fakeRuntime(worker((req, _d, send) => {
    forwarded.push(req.method);
    send({ type: "response", key: req.key, result: { version: "0.1.0", agent: null } });
    send({ type: "event", event: "token", data: { type: "inserted", token: "pkcs11:demo" } });
  }));
  loadBridge(win, rt);
  const client = createClient(win, { timeoutMs: 2000 });
  const got = [];
  const other = [];
  client.on("token", (e) => got.push(e));
  client.on("token", (e) => other.push(e)); // a second subscriber: no second hello
  await until(() => got.length > 0);
  assert.deepEqual(forwarded, ["detect"]);
  assert.deepEqual(got, [{ type: "inserted", token: "pkcs11:demo" }]);
  assert.deepEqual(other, got);
});

test("the bridge fails calls in flight when the worker goes away, and reconnects for a listening page", async () => {
  const win = new FakeWindow();
  const rt = fakeRuntime(worker((req, _d, send) => {
    if (req.method === "detect") send({ type: "response", key: req.key, result: { version: "0.1.0", agent: null } });
    // seals.list: never answered (the worker restarts first)
  }));
  loadBridge(win, rt);
  const client = createClient(win, { timeoutMs: 5000 });
  client.on("token", () => {});
  await new Promise((r) => setTimeout(r, 30));
  const pending = client.listSeals();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(rt.ports.length, 1);
  rt.ports[0].disconnect(); // the service worker stopped
  await assert.rejects(pending, (e) => e instanceof SealBridgeError && e.code === "AGENT_UNAVAILABLE");
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(rt.ports.length, 2); // back, so token events reach the page again
});
