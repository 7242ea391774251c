// stamp.batch in the extension: the SDK joins the documents and splits the answer, the worker's pure batch
// helpers, and the batch window's review rules (approve only after every ticked document was shown).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient } from "../sdk/sealbridge.js";
import { batchCall, batchReply, splitDocuments } from "../background/batch.js";
import { nextUnseen, reviewState, shortHash, stepDocument } from "../ui/approve-batch-view.js";
import { FakeWindow, fakeRuntime, loadBridge } from "./fakes.mjs";

const enc = (s) => new TextEncoder().encode(s);
const PLACE = [{ type: "at", page: 1, x: 50, y: 60 }];

function setup(onRequest) {
  const docs = new Map();
  const win = new FakeWindow();
  const rt = fakeRuntime((msg, send) => {
    if (msg.type === "request") docs.set(msg.key, { req: msg, parts: [] });
    else if (msg.type === "chunk") {
      const d = docs.get(msg.key);
      d.parts.push(Buffer.from(msg.b64, "base64"));
      if (d.parts.length === d.req.docChunks) onRequest(d.req, Buffer.concat(d.parts), send);
    }
  });
  loadBridge(win, rt);
  return { win, client: createClient(win, { timeoutMs: 2000 }) };
}

test("stampBatch sends the documents back to back and returns one Blob per stamped document", async () => {
  const docs = [enc("%PDF-1.7 one"), enc("PK\x03\x04 two"), enc("%PDF-1.7 three")];
  let seen = null;
  const { client } = setup((req, bytes, send) => {
    seen = { req, bytes };
    // The worker's answer: document 1 failed, 0 and 2 stamped (their bytes joined, offsets named).
    const parts = splitDocuments(new Uint8Array(bytes), req.params.documents);
    const outs = new Map([
      [0, { id: "a", format: "pdf" }],
      [2, { id: "c", format: "pdf" }],
    ]);
    const stamped = { a: Buffer.concat([parts[0], enc("+s")]), c: Buffer.concat([parts[2], enc("+s")]) };
    const res = {
      batch_id: "f".repeat(32),
      audit_seq: 9,
      manifest_sm3: "e".repeat(64),
      documents: [
        { index: 0, name: "a.pdf", status: "stamped", sm3_before: "1".repeat(64), sm3_after: "2".repeat(64) },
        { index: 1, name: "b.ofd", status: "failed", sm3_before: null, sm3_after: null, error: { code: "DOC_MALFORMED", message_en: "bad", message_zh: "坏" } },
        { index: 2, name: "c.pdf", status: "stamped", sm3_before: "3".repeat(64), sm3_after: "4".repeat(64) },
      ],
    };
    send({ type: "event", event: "batch", data: { request_id: "f".repeat(32), index: 0, status: "stamped" } });
    const reply = batchReply(res, outs, (o) => new Uint8Array(stamped[o.id]));
    send({ type: "response", key: req.key, result: reply.result, docChunks: 1 });
    send({ type: "chunk", key: req.key, index: 0, b64: Buffer.from(reply.document).toString("base64") });
  });
  const progress = [];
  const res = await client.stampBatch(
    docs.map((d, i) => ({ document: new Blob([d]), name: ["a.pdf", "b.ofd", "c.pdf"][i], placements: PLACE })),
    { onProgress: (e) => progress.push(e) },
  );
  assert.equal(seen.req.method, "stamp.batch");
  assert.deepEqual(seen.req.params.documents.map((d) => d.size), docs.map((d) => d.length));
  assert.deepEqual(Buffer.from(seen.bytes), Buffer.concat(docs));
  assert.equal(res.batchId, "f".repeat(32));
  assert.deepEqual(res.results.map((r) => r.status), ["stamped", "failed", "stamped"]);
  assert.equal(Buffer.from(await res.results[2].document.arrayBuffer()).toString(), "%PDF-1.7 three+s");
  assert.equal(res.results[2].document.type, "application/pdf");
  assert.equal(res.results[1].document, null);
  assert.equal(res.results[1].error.code, "DOC_MALFORMED");
  assert.ok(progress.some((e) => e.index === 0));
});

test("stampBatch refuses an empty or oversized batch before anything is sent", async () => {
  const { client } = setup(() => assert.fail("nothing may be sent"));
  await assert.rejects(client.stampBatch([]), { code: "BAD_REQUEST" });
  const many = Array.from({ length: 101 }, () => ({ document: enc("%PDF-1.7"), placements: PLACE }));
  await assert.rejects(client.stampBatch(many), { code: "DOC_TOO_LARGE" });
  await assert.rejects(client.stampBatch([{ document: enc("%PDF-1.7"), placements: [] }]), { code: "PLACEMENT_INVALID" });
});

test("the worker splits by the declared sizes and refuses sizes that do not add up", () => {
  const bytes = enc("aaabbbbc");
  const parts = splitDocuments(bytes, [{ size: 3 }, { size: 4 }, { size: 1 }]);
  assert.deepEqual(parts.map((p) => Buffer.from(p).toString()), ["aaa", "bbbb", "c"]);
  assert.throws(() => splitDocuments(bytes, [{ size: 3 }, { size: 4 }]), (e) => e.data.code === "BAD_REQUEST");
  assert.throws(() => splitDocuments(bytes, [{ size: 0 }, { size: 8 }]), (e) => e.data.code === "BAD_REQUEST");
  const call = batchCall({ top: "https://a", frame: "https://a" }, { documents: [{ placements: PLACE, seal: "S1" }, { placements: PLACE }], reason: "月结" }, [{ id: "1" }, { id: "2" }]);
  assert.deepEqual(call.documents[0], { document: { id: "1" }, placements: PLACE, seal_id: "S1" });
  assert.equal(call.documents[1].seal_id, undefined);
  assert.deepEqual(call.options, { reason: "月结" });
});

test("batch window: approve only when every ticked document was shown; unticking one lifts its need", () => {
  const docs = [0, 1, 2, 3].map((index) => ({ index, status: index === 2 ? "failed" : "ready" }));
  const ticked = new Set([0, 1, 3]);
  const shown = new Set([0]);
  assert.deepEqual(reviewState(docs, ticked, shown), { include: [0, 1, 3], unseen: [1, 3], shown: 1, canApprove: false });
  assert.equal(nextUnseen(docs, 0, ticked, shown), 1);
  assert.equal(nextUnseen(docs, 1, ticked, shown), 3);
  ticked.delete(3);
  shown.add(1);
  assert.equal(reviewState(docs, ticked, shown).canApprove, true);
  assert.equal(reviewState(docs, new Set(), shown).canApprove, false); // nothing ticked
  assert.equal(stepDocument(docs, 1, 1), 3); // the failed document is skipped when paging
  assert.equal(stepDocument(docs, 3, 1), 3);
  assert.equal(stepDocument(docs, 0, -1), 0);
  assert.equal(shortHash("0123456789abcdef0123456789abcdef"), "01234567…89abcdef");
});
