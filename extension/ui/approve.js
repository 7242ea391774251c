// The approval window: the only place a PIN is typed. It shows who asks (origin from the browser, not the
// page), what will be stamped (name, pages, size, SM3, a preview with the seal where it will land) and lets the
// user choose the seal. The PIN goes from here to the service worker and on to the agent, nowhere else.
import { connectWorker, el, localize, t } from "./common.js";

const requestId = new URLSearchParams(location.search).get("req");
let details = null;

const worker = connectWorker((event, data) => {
  if (event === "token") {
    const msg = document.getElementById("message");
    msg.className = data.type === "removed" ? "message" : "message info";
    msg.textContent = data.type === "removed" ? t("tokenRemoved") : t("tokenInserted");
    document.getElementById("approve").disabled = data.type === "removed";
    if (data.type === "inserted") loadSeals();
  }
});

function showError(e) {
  const msg = document.getElementById("message");
  msg.className = "message";
  if (e.code === "PIN_INCORRECT" && e.retries_left !== undefined) msg.textContent = t("pinRetriesLeft", String(e.retries_left));
  else msg.textContent = `${e.message_zh ?? ""} ${e.message_en ?? e.message} (${e.code ?? "ERROR"})`;
}

async function loadSeals() {
  const { result } = await worker.request("approval.seals", { req: requestId });
  const select = document.getElementById("seal");
  select.replaceChildren(...result.seals.map((s) => el("option", { value: s.id }, `${s.name} (${s.kind ?? ""}) ${s.esID}`)));
  if (details?.seal) select.value = details.seal;
}

async function loadPreview() {
  const seal = document.getElementById("seal").value;
  const box = document.getElementById("preview");
  try {
    const { result } = await worker.request("approval.preview", { req: requestId, seal });
    box.replaceChildren(...result.pages.map((p) => el("img", { src: `data:image/png;base64,${p.png_base64}`, alt: `page ${p.page}` })));
  } catch (e) {
    box.replaceChildren(el("p", {}, `${e.message_zh ?? ""} ${e.message_en ?? e.message}`));
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  localize();
  try {
    ({ result: details } = await worker.request("approval.get", { req: requestId }));
  } catch (e) {
    showError(e);
    return;
  }
  document.getElementById("origin").textContent = details.origin;
  document.getElementById("frame").textContent = details.frame_origin ?? details.origin;
  document.getElementById("doc-name").textContent = details.name;
  document.getElementById("doc-pages").textContent = details.pages ?? "?";
  document.getElementById("doc-size").textContent = `${(details.size / 1024).toFixed(1)} KiB`;
  document.getElementById("doc-sm3").textContent = details.sm3;
  await loadSeals().catch(showError);
  await loadPreview();
  document.getElementById("seal").addEventListener("change", loadPreview);
  document.getElementById("approve").addEventListener("click", async () => {
    const button = document.getElementById("approve");
    const pinInput = document.getElementById("pin");
    button.disabled = true;
    try {
      await worker.request("approval.approve", { req: requestId, seal: document.getElementById("seal").value, pin: pinInput.value });
      window.close();
    } catch (e) {
      pinInput.value = "";
      showError(e);
      button.disabled = false;
    }
  });
  document.getElementById("cancel").addEventListener("click", async () => {
    await worker.request("approval.cancel", { req: requestId }).catch(() => {});
    window.close();
  });
  document.getElementById("pin").focus();
});
