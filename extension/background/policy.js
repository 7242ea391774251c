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

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** "SBP1-<port>-<base32 secret in groups>" (printed by `sealbridge pair`) → {port, secret (hex)}. */
export function parsePairingCode(code) {
  const parts = String(code).trim().toUpperCase().split("-");
  const bad = () => Object.assign(new Error("not a SealBridge pairing code"), { data: { code: "BAD_REQUEST", message_en: "Not a SealBridge pairing code", message_zh: "配对码格式错误" } });
  if (parts.length < 3 || parts[0] !== "SBP1" || !/^[0-9]{1,5}$/.test(parts[1])) throw bad();
  const port = Number(parts[1]);
  let bits = "";
  for (const ch of parts.slice(2).join("")) {
    const v = B32.indexOf(ch);
    if (v < 0) throw bad();
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  if (bytes.length !== 32 || port < 1 || port > 65535) throw bad();
  return { port, secret: bytes.map((b) => b.toString(16).padStart(2, "0")).join("") };
}

/** An agent token event → what the extension's pages and the SDK's on('token') get. `labels` remembers each
 * token's label from its insertion, so a removal (which carries only the id) can still name the key. */
export function tokenEvent(method, params, labels) {
  if (method === "token.inserted") {
    labels.set(params.token.token_id, params.token.label);
    return { type: "inserted", token: params.token.token_id, label: params.token.label };
  }
  return { type: "removed", token: params.token_id, label: labels.get(params.token_id) ?? params.token_id };
}
