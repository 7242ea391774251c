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
