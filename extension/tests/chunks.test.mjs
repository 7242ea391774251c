import assert from "node:assert/strict";
import { test } from "node:test";

import { CHUNK_BYTES, Reassembler, chunkCount, chunksOf } from "../common/chunks.js";

test("a document survives chunking and reassembly byte for byte", () => {
  const doc = new Uint8Array(CHUNK_BYTES * 2 + 12345);
  for (let i = 0; i < doc.length; i++) doc[i] = (i * 2654435761) >>> 24;
  const r = new Reassembler(chunkCount(doc.length), doc.length);
  for (const { index, b64 } of chunksOf(doc)) r.add(index, b64);
  assert.ok(r.complete);
  assert.deepEqual(r.bytes(), doc);
});

test("every chunk stays well under Chrome's 64 MiB message cap", () => {
  const doc = new Uint8Array(CHUNK_BYTES + 1);
  for (const { b64 } of chunksOf(doc)) assert.ok(JSON.stringify({ b64 }).length < 8 * 1024 * 1024);
});

test("reassembly refuses oversize, out-of-order and surplus chunks", () => {
  assert.throws(() => new Reassembler(1000, 10), /DOC_TOO_LARGE/);
  assert.throws(() => new Reassembler(1, 300 * 1024 * 1024), /DOC_TOO_LARGE/);
  const small = new Reassembler(1, 3);
  assert.throws(() => small.add(0, btoa("abcd")), /DOC_TOO_LARGE/); // more bytes than declared
  const order = new Reassembler(2, 8);
  assert.throws(() => order.add(1, btoa("abcd")), /BAD_REQUEST/);
  const done = new Reassembler(1, 4);
  done.add(0, btoa("abcd"));
  assert.throws(() => done.add(1, btoa("e")), /BAD_REQUEST/);
  const short = new Reassembler(1, 10);
  short.add(0, btoa("abc"));
  assert.throws(() => short.bytes(), /BAD_REQUEST/);
});
