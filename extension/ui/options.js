// Options / popup: agent status, pairing, inserted tokens, the user's allowed portals (the admin's managed
// list is shown read-only and always wins).
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
  const { user, managed } = result.sites;
  document.getElementById("managed").replaceChildren(...(managed.length ? managed.map((s) => el("li", {}, s)) : [el("li", { class: "empty" }, t("none"))]));
  document.getElementById("sites").replaceChildren(
    ...user.map((s) =>
      el("li", {}, `${s} `, el("button", { onclick: async () => (await worker.request("sites.remove", { origin: s }), refresh()) }, t("removeSite"))),
    ),
  );
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
