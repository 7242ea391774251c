// Moving bytes over runtime ports: Chrome serialises port messages as JSON (64 MiB cap), so documents travel
// as base64 chunks of CHUNK_BYTES raw bytes and are reassembled with a size cap on the other side.

export const CHUNK_BYTES = 4 * 1024 * 1024;
export const MAX_DOC_BYTES = 200 * 1024 * 1024;

export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function chunkCount(size) {
  return size ? Math.max(1, Math.ceil(size / CHUNK_BYTES)) : 0;
}

/** Yield {index, b64} for each chunk of `bytes`. */
export function* chunksOf(bytes) {
  const n = chunkCount(bytes.length);
  for (let i = 0; i < n; i++) yield { index: i, b64: toBase64(bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)) };
}

/** Collects announced chunks; throws on overflow, out-of-order or excess chunks. */
export class Reassembler {
  constructor(expectedChunks, declaredSize, maxBytes = MAX_DOC_BYTES) {
    if (!Number.isInteger(expectedChunks) || expectedChunks < 0 || expectedChunks > Math.ceil(maxBytes / CHUNK_BYTES)) {
      throw new RangeError("DOC_TOO_LARGE");
    }
    if (!Number.isInteger(declaredSize) || declaredSize < 0 || declaredSize > maxBytes) throw new RangeError("DOC_TOO_LARGE");
    this.expected = expectedChunks;
    this.declared = declaredSize;
    this.max = maxBytes;
    this.parts = [];
    this.size = 0;
  }

  get complete() {
    return this.parts.length === this.expected;
  }

  /** How much of the declared document has arrived, 0…1 (for progress events). */
  fraction() {
    return this.declared ? Math.min(1, this.size / this.declared) : 1;
  }

  add(index, b64) {
    if (index !== this.parts.length || this.complete) throw new RangeError("BAD_REQUEST");
    const part = fromBase64(b64);
    this.size += part.length;
    if (this.size > this.declared || this.size > this.max) throw new RangeError("DOC_TOO_LARGE");
    this.parts.push(part);
    return this.complete;
  }

  bytes() {
    if (!this.complete || this.size !== this.declared) throw new RangeError("BAD_REQUEST");
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
