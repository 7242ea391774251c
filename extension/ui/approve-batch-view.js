// Pure helpers of the batch approval window (unit-tested under node): what may be approved, paging, sizes.

/**
 * The state of the review: the approval needs at least one ticked document, and every ticked document's
 * preview shown. `docs` = the batch's documents ({index, status}); `ticked`, `shown` = Sets of indices.
 */
export function reviewState(docs, ticked, shown) {
  const ready = docs.filter((d) => d.status === "ready").map((d) => d.index);
  const include = ready.filter((i) => ticked.has(i));
  const unseen = include.filter((i) => !shown.has(i));
  return { include, unseen, shown: ready.filter((i) => shown.has(i)).length, canApprove: include.length > 0 && unseen.length === 0 };
}

/** The next readable document from `current` in direction `step` (+1 / -1), or `current` at either end. */
export function stepDocument(docs, current, step) {
  const ready = docs.filter((d) => d.status === "ready").map((d) => d.index);
  const at = ready.indexOf(current);
  if (at < 0) return ready[0] ?? current;
  const next = at + step;
  return next >= 0 && next < ready.length ? ready[next] : current;
}

/** The first ticked document not yet seen after `current` (wrapping), so "next" leads through what is left. */
export function nextUnseen(docs, current, ticked, shown) {
  const { unseen } = reviewState(docs, ticked, shown);
  return unseen.find((i) => i > current) ?? unseen[0] ?? null;
}

export function humanSize(bytes) {
  if (!Number.isFinite(bytes)) return "?";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** An SM3 digest short enough for a table cell (the full value is in the cell's title). */
export function shortHash(hex) {
  return typeof hex === "string" && hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-8)}` : (hex ?? "—");
}
