// The demo government form: 盖章 buttons and a verify area, all through the SealBridge SDK.
import { SealBridge } from "/sdk/sealbridge.js";
import { demoFacts, renderReport, showError, showStamped } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const facts = await demoFacts();
$("company").textContent = facts.company;
$("uscc").textContent = facts.uscc;
for (const s of facts.seals) {
  const opt = document.createElement("option");
  opt.value = s.esID;
  opt.textContent = `${s.zh} · ${s.esID}${s.revoked ? "（已吊销 / revoked）" : ""}`;
  $("seal").append(opt);
}

const status = $("status");
try {
  const d = await SealBridge.detect();
  if (!d.installed) {
    status.textContent = "未检测到 SealBridge 扩展：请按终端中的命令用 Chromium 打开本页。 / Extension not found: open this page with the command printed in the terminal.";
    status.className = "status warn";
  } else {
    // Connected is not allowed: a site the user has not decided about gets the extension's prompt first.
    const site = { allowed: "本站已获允许 / site allowed", ask: "首次使用时扩展会询问是否允许本站 / the extension will ask about this site", denied: "本站未被允许 / site not allowed" }[d.site] ?? "";
    status.textContent = `SealBridge 扩展 ${d.version} · 本地代理 ${d.agent && d.agent.connected ? "已连接 / connected" : "未连接 / not connected"} · ${site}`;
    status.className = d.siteAllowed ? "status ok" : "status warn";
  }
} catch (e) {
  status.textContent = String(e);
  status.className = "status warn";
}

const PLACEMENTS = {
  keyword: [{ type: "keyword", text: facts.keyword }],
  at: [{ type: "at", page: 3, x: 95, y: 196 }],
  seam: [{ type: "seam", side: "right", pages: "all" }],
};

async function verify(blob, name) {
  const target = $("verify-result");
  try {
    renderReport(target, await SealBridge.verify(blob, { name }));
  } catch (e) {
    showError(target, e);
  }
}

for (const button of document.querySelectorAll("button[data-place]")) {
  button.addEventListener("click", async () => {
    const fmt = $("format").value;
    const target = $("stamp-result");
    try {
      const original = await (await fetch(`/samples/form.${fmt}`)).blob();
      const name = `form-stamped.${fmt}`;
      const { document: stamped } = await SealBridge.stamp({
        document: original, name, placements: PLACEMENTS[button.dataset.place], seal: $("seal").value,
      });
      showStamped(target, stamped, name, verify);
    } catch (e) {
      showError(target, e);
    }
  });
}

const drop = $("drop");
$("file").addEventListener("change", (ev) => ev.target.files[0] && verify(ev.target.files[0], ev.target.files[0].name));
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const f = ev.dataTransfer.files[0];
  if (f) verify(f, f.name);
});
