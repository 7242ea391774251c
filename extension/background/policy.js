// Which portals may use seals. The admin's managed list (storage.managed) wins over the user's list.
// Pure functions, unit-tested under node.

/** Canonical origin for an https URL (or http on loopback/localhost, for development); null otherwise. */
export function normalizeOrigin(input) {
  let url;
  try {
    url = new URL(String(input).trim());
  } catch {
    return null;
  }
  const loopback = url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return null;
  if (url.username || url.password) return null;
  return url.origin;
}

/**
 * Decide for a requesting page. `top` and `frame` are browser-given origins. Both must be allowed: a portal
 * cannot lend its permission to a third-party iframe, nor can an allowed iframe act inside a foreign page.
 * @returns {"allowed"|"denied"}
 */
export function decide({ top, frame }, { managedAllowed = [], managedDenied = [], userAllowed = [] }) {
  const origins = [top, frame ?? top];
  if (origins.some((o) => !o || o === "null")) return "denied";
  if (origins.some((o) => managedDenied.includes(o))) return "denied";
  const allowed = new Set([...managedAllowed, ...userAllowed]);
  return origins.every((o) => allowed.has(o)) ? "allowed" : "denied";
}
