// stamp.batch between the page and the agent: the page sends its documents back to back in one transfer
// (each named by its size), the agent answers per document; the page gets the stamped documents back to back
// in one buffer, each result naming its offset and size. Pure functions, unit-tested under node.

const err = (code, en, zh) => ({ data: { code, message_en: en, message_zh: zh } });

/** Cut the joined upload into the documents the page described; refuses sizes that do not add up. */
export function splitDocuments(bytes, documents) {
  if (!Array.isArray(documents) || documents.length === 0 || documents.length > 1000) {
    throw Object.assign(new Error("BAD_REQUEST"), err("BAD_REQUEST", "documents must be a non-empty array", "文档列表格式错误"));
  }
  const sizes = documents.map((d) => d?.size);
  if (!sizes.every((n) => Number.isInteger(n) && n > 0) || sizes.reduce((a, b) => a + b, 0) !== bytes.length) {
    throw Object.assign(new Error("BAD_REQUEST"), err("BAD_REQUEST", "document sizes do not match the bytes sent", "文档大小与内容不符"));
  }
  const parts = [];
  let off = 0;
  for (const n of sizes) {
    parts.push(bytes.subarray(off, off + n));
    off += n;
  }
  return parts;
}

/** The agent's stamp.batch params from the page's request (placements, names and seals as the page gave them). */
export function batchCall(origin, params, refs) {
  const documents = params.documents.map((d, i) => {
    const item = { document: refs[i], placements: d.placements };
    if (typeof d.seal === "string" && d.seal) item.seal_id = d.seal;
    return item;
  });
  const call = { origin, documents };
  if (typeof params.seal === "string" && params.seal) call.seal_id = params.seal;
  if (typeof params.reason === "string" && params.reason) call.options = { reason: params.reason };
  return call;
}

/** The answer to the page: per-document outcomes, the stamped documents joined with their offsets. */
export function batchReply(res, docOuts, take) {
  const pieces = [];
  let off = 0;
  const documents = res.documents.map((d) => {
    const out = { ...d };
    const docOut = d.status === "stamped" ? docOuts.get(d.index) : undefined;
    if (docOut) {
      const bytes = take(docOut);
      Object.assign(out, { offset: off, size: bytes.length, format: docOut.format });
      pieces.push(bytes);
      off += bytes.length;
    }
    return out;
  });
  const joined = new Uint8Array(off);
  let at = 0;
  for (const p of pieces) {
    joined.set(p, at);
    at += p.length;
  }
  return { result: { batch_id: res.batch_id, audit_seq: res.audit_seq, manifest_sm3: res.manifest_sm3, documents }, document: off ? joined : null };
}
