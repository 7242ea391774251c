// Which portals may use seals: the administrator's managed policy first (storage.managed and the agent's config),
// then the user's answers to the extension's prompt (allow once / always / deny).
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

/** The key a user's decision is kept under: the top-level origin, or "top frame" for a framed request (a
 * portal's permission is not lent to the frames it embeds, nor an embedded site's to the pages around it). */
export function decisionKey({ top, frame }) {
  return frame && frame !== top ? `${top} ${frame}` : top;
}

/**
 * Decide for a requesting page. `top` and `frame` are browser-given origins.
 * `managedAllowed`/`managedDenied`/`prompt`: the administrator's (storage.managed and the agent's config);
 * `decisions`: the user's answers to the prompt, {key: {decision: "allow"|"deny", at}}.
 * @returns {{verdict: "allowed"|"denied"|"ask", grant?: "managed"|"always", why?: string}}
 */
export function decide({ top, frame }, { managedAllowed = [], managedDenied = [], prompt = true, decisions = {} } = {}) {
  const origins = [top, frame ?? top];
  if (origins.some((o) => !o || o === "null")) return { verdict: "denied", why: "opaque" };
  if (origins.some((o) => managedDenied.includes(o))) return { verdict: "denied", why: "managed" };
  if (origins.every((o) => managedAllowed.includes(o))) return { verdict: "allowed", grant: "managed" };
  if (origins.some((o) => normalizeOrigin(o) !== o)) return { verdict: "denied", why: "insecure" };
  const mine = Object.hasOwn(decisions, decisionKey({ top, frame: frame ?? top })) ? decisions[decisionKey({ top, frame: frame ?? top })] : null;
  if (mine?.decision === "deny") return { verdict: "denied", why: "user" };
  if (!prompt) return { verdict: "denied", why: "managed" }; // the administrator's list only
  if (mine?.decision === "allow") return { verdict: "allowed", grant: "always" };
  return { verdict: "ask" };
}

// Second-level labels under which registrations happen (a short public-suffix list for the sites clerks meet:
// Chinese government and company portals first).
const PUBLIC_SECOND_LEVEL = new Set(
  "com.cn net.cn org.cn gov.cn edu.cn ac.cn mil.cn ah.cn bj.cn cq.cn fj.cn gd.cn gs.cn gz.cn gx.cn ha.cn hb.cn he.cn hi.cn hk.cn hl.cn hn.cn jl.cn js.cn jx.cn ln.cn mo.cn nm.cn nx.cn qh.cn sc.cn sd.cn sh.cn sn.cn sx.cn tj.cn tw.cn xj.cn xz.cn yn.cn zj.cn com.hk gov.hk org.hk edu.hk com.mo gov.mo com.tw gov.tw org.tw co.uk org.uk gov.uk ac.uk co.jp go.jp or.jp ne.jp ac.jp co.kr go.kr com.au gov.au com.sg gov.sg".split(" "),
);

/** A host split so the registrable domain (who owns the site) can be emphasised: {before, domain}. IP
 * addresses and single labels are their own domain. */
export function registrableDomain(host) {
  const h = String(host).toLowerCase().replace(/\.$/, "");
  if (/^[0-9.]+$/.test(h) || h.includes(":") || h.startsWith("[") || !h.includes(".")) return { before: "", domain: h };
  const labels = h.split(".");
  const n = PUBLIC_SECOND_LEVEL.has(labels.slice(-2).join(".")) ? 3 : 2;
  const domain = labels.slice(-n).join(".");
  return { before: labels.length > n ? `${labels.slice(0, -n).join(".")}.` : "", domain };
}

/** An origin for the prompt: scheme, host (split at the registrable domain) and port. */
export function describeOrigin(origin) {
  try {
    const url = new URL(origin);
    const { before, domain } = registrableDomain(url.hostname);
    return { scheme: `${url.protocol}//`, before, domain, port: url.port ? `:${url.port}` : "", secure: url.protocol === "https:" };
  } catch {
    return { scheme: "", before: "", domain: String(origin), port: "", secure: false };
  }
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
