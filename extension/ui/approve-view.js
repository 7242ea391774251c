// Pure helpers of the approval window (unit-tested under node): which pages to preview, how to name a kind.

const MAX_PREVIEW = 8;

/**
 * The pages to preview: every page of a short document; otherwise the pages named by coordinates plus the
 * first and last page (where signature blocks and keywords usually are), at most MAX_PREVIEW.
 * `details` = {pages, placements} of the pending request.
 */
export function previewPages({ pages, placements = [] }) {
  const n = Number.isInteger(pages) && pages > 0 ? pages : 1;
  if (n <= MAX_PREVIEW) return Array.from({ length: n }, (_, i) => i + 1);
  const wanted = new Set([1, n]);
  for (const p of placements) if (p.type === "at" && Number.isInteger(p.page) && p.page >= 1 && p.page <= n) wanted.add(p.page);
  return [...wanted].sort((a, b) => a - b).slice(0, MAX_PREVIEW);
}

/** A seal kind as the agent names it; a bare type number says nothing to a clerk, so it is left out. */
export function sealKindLabel(kind) {
  if (kind === null || kind === undefined) return "";
  const s = String(kind).trim();
  return /^\d*$/.test(s) ? "" : s;
}

/** The chooser's line for a seal: its name, and its kind unless the name already says it (…合同专用章). */
export function sealOptionLabel(seal) {
  const kind = sealKindLabel(seal.kind);
  return kind && !String(seal.name ?? "").includes(kind) ? `${seal.name} · ${kind}` : String(seal.name ?? seal.id);
}

/** A document size as people read it: bytes, KB or MB (1024-based, one decimal under 100). */
export function formatSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1024) return `${n} B`;
  const [value, unit] = n < 1024 * 1024 ? [n / 1024, "KB"] : [n / (1024 * 1024), "MB"];
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** A seal's platform status as the chooser uses it; a seal listed without one is taken as usable. */
export function sealStatus(seal) {
  const s = seal?.status;
  if (!s || typeof s !== "object") return { state: "unknown", usable: true, code: null };
  return { state: String(s.state ?? "unknown"), usable: s.usable !== false, code: s.code ?? null };
}

/** The seal to select: the one chosen before if still usable, else the suggested one, else the first usable. */
export function pickSeal(seals, previous, suggested, refused = new Set()) {
  const usable = (id) => seals.some((s) => s.id === id && sealStatus(s).usable && !refused.has(id));
  if (previous && usable(previous)) return previous;
  if (suggested && usable(suggested)) return suggested;
  return seals.find((s) => usable(s.id))?.id ?? "";
}
