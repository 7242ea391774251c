// The OA-style integration example: detect, list seals, token events, one stamp button.
import { SealBridge } from "/sdk/sealbridge.js";
import { demoFacts, showError, showStamped } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const facts = await demoFacts();
const contract = facts.seals.find((s) => s.role === "contract");

const d = await SealBridge.detect().catch(() => ({ installed: false }));
$("ext").textContent = d.installed ? `SealBridge ${d.version}` : "未安装 / not installed";
if (d.installed) {
  try {
    for (const s of await SealBridge.listSeals()) {
      const li = document.createElement("li");
      li.textContent = `${s.name} · ${s.esID}${s.kind && !/^\d+$/.test(s.kind) ? ` · ${s.kind}` : ""}`;
      $("seals").append(li);
    }
  } catch (e) {
    $("seals").textContent = String(e.code || e);
  }
}
SealBridge.on("token", (e) => { $("token-events").textContent = `${e.type} ${e.label || e.token}`; });

$("oa-stamp").addEventListener("click", async () => {
  const target = $("oa-result");
  try {
    const pdf = await (await fetch("/samples/form.pdf")).blob();
    const { document: stamped } = await SealBridge.stamp({
      document: pdf, name: "contract.pdf",
      placements: [{ type: "keyword", text: facts.keyword }, { type: "seam", side: "right" }],
      seal: contract && contract.esID,
    });
    showStamped(target, stamped, "contract-stamped.pdf");
  } catch (e) {
    showError(target, e);   // e.g. SEAL_REVOKED after the demo revoked the contract seal
  }
});
