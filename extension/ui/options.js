// Options / popup: agent status, pairing, inserted tokens, the user's site decisions (allowed / denied, each
// revocable; the admin's managed list is shown read-only and always wins).
import { connectWorker, el, languageSwitch, loadLanguage, localize, t } from "./common.js";
import { normalizeOrigin } from "../background/policy.js";

const ext = globalThis.browser ?? globalThis.chrome;
const worker = connectWorker((event) => event === "token" && refresh());

async function refresh() {
  const { result } = await worker.request("status", {});
  document.getElementById("agent").textContent = result.agent.connected
    ? `${t("agentConnected")} · ${result.agent.version ?? ""} · ${result.paired ? t("paired") : t("notPaired")}`
    : `${t("agentDisconnected")} ${result.agent.error ?? ""}`;
  document.getElementById("version").textContent = ext.runtime.getManifest().version;
  document.getElementById("tokens").replaceChildren(...(result.tokens ?? []).map((tk) => el("li", {}, `${tk.label} (${tk.kind})`)));
  const { decisions, managed, prompt } = result.sites;
  document.getElementById("managed").replaceChildren(...(managed.length ? managed.map((s) => el("li", {}, s)) : [el("li", { class: "empty" }, t("none"))]));
  document.getElementById("prompt-off").hidden = prompt !== false;
  // The user's answers to the site prompt: each can be revoked (the site is asked again next time).
  const entries = Object.entries(decisions ?? {}).sort(([a], [b]) => a.localeCompare(b));
  document.getElementById("sites").replaceChildren(
    ...(entries.length
      ? entries.map(([site, d]) =>
          el(
            "li",
            { "data-site": site, "data-decision": d.decision },
            `${site.replace(" ", " ⟶ ")} · `,
            el("span", { class: `decision ${d.decision}` }, t(d.decision === "deny" ? "siteDecisionDeny" : "siteDecisionAllow")),
            d.at ? ` · ${beijingDate(d.at)}` : "",
            " ",
            el("button", { class: "revoke", onclick: async () => (await worker.request("sites.remove", { origin: site }), refresh()) }, t("siteRevoke")),
          ),
        )
      : [el("li", { class: "empty" }, t("none"))]),
  );
}

/** A decision's date in Beijing time, zone shown. */
function beijingDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const bj = new Date(d.getTime() + 8 * 3600 * 1000).toISOString();
  return `${bj.slice(0, 10)} ${bj.slice(11, 16)} (UTC+8)`;
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadLanguage();
  localize();
  languageSwitch(document.getElementById("lang"), () => refresh().catch(() => {}));
  document.getElementById("add-site").addEventListener("click", async () => {
    const input = document.getElementById("new-site");
    const origin = normalizeOrigin(input.value);
    if (!origin) {
      document.getElementById("message").textContent = t("siteInvalid");
      return;
    }
    document.getElementById("message").textContent = "";
    await worker.request("sites.add", { origin });
    input.value = "";
    refresh();
  });
  document.getElementById("pair").addEventListener("click", async () => {
    try {
      await worker.request("pair", { code: document.getElementById("pairing").value.trim() });
      document.getElementById("message").textContent = "";
    } catch (e) {
      document.getElementById("message").textContent = `${e.code}: ${e.message_en ?? e.message}`;
    }
    refresh();
  });
  refresh().catch((e) => (document.getElementById("message").textContent = e.message));
});
