// The approval window: the only place a PIN is typed. It shows who asks (origin from the browser, not the
// page), what will be stamped (name, pages, size, SM3, a preview with the seal where it will land) and lets the
// user choose the seal. The PIN goes from here to the service worker and on to the agent, nowhere else.
import { beijingTime } from "../common/report-text.js";
import { connectWorker, el, errorText, languageSwitch, loadLanguage, localize, t } from "./common.js";
import { previewPages, sealKindLabel, sealOptionLabel } from "./approve-view.js";

const requestId = new URLSearchParams(location.search).get("req");
const $ = (id) => document.getElementById(id);
let details = null;
let seals = [];

const worker = connectWorker((event, data) => {
  if (event === "token") onToken(data);
  else if (event === "approval.closed" && data.request_id === requestId) ended();
});

/** The request failed for good: keep the reason on screen, leave only "close". */
function ended() {
  document.body.dataset.state = "ended";
  for (const id of ["approve", "pin", "seal"]) $(id).disabled = true;
  $("cancel").textContent = t("closeButton");
}

function setMessage(text, kind = "error") {
  $("message").className = `message ${kind}`;
  $("message").textContent = text;
}

/** A key pulled or plugged while the window is open: say so, and refresh the seals it offers. */
async function onToken(data) {
  setMessage(data.type === "removed" ? t("tokenRemoved", data.label ?? data.token ?? "") : t("tokenInserted", data.label ?? ""), data.type === "removed" ? "error" : "info");
  document.body.dataset.token = data.type;
  await loadSeals().catch(() => {});
}

function showError(e) {
  if (e.code === "PIN_INCORRECT" && e.retries_left !== undefined) setMessage(t("pinRetriesLeft", String(e.retries_left)));
  else setMessage(errorText(e));
}

function showSeal() {
  const seal = seals.find((s) => s.id === $("seal").value);
  const pic = $("seal-picture");
  if (seal?.picture_png_base64) {
    pic.src = `data:image/png;base64,${seal.picture_png_base64}`;
    pic.alt = seal.name;
    pic.hidden = false;
  } else {
    pic.hidden = true;
  }
  const meta = $("seal-meta");
  meta.textContent = seal ? [sealKindLabel(seal.kind), `esID ${seal.esID ?? seal.id}`, seal.valid_to ? `${t("validUntil")} ${beijingTime(seal.valid_to)}` : ""].filter(Boolean).join(" · ") : "";
  meta.title = seal?.cert_subject ?? "";
}

async function loadSeals() {
  const { result } = await worker.request("approval.seals", { req: requestId });
  const select = $("seal");
  const previous = select.value;
  seals = result.seals;
  select.replaceChildren(...seals.map((s) => el("option", { value: s.id }, sealOptionLabel(s))));
  if (seals.some((s) => s.id === previous)) select.value = previous;
  else if (details?.seal && seals.some((s) => s.id === details.seal)) select.value = details.seal;
  $("approve").disabled = seals.length === 0;
  showSeal();
  // The chosen seal went away with its key (or a first seal arrived): the preview must follow the choice.
  if (select.value !== previous && details) await loadPreview();
}

let previewSeq = 0;

async function loadPreview() {
  const seal = $("seal").value;
  const box = $("preview");
  const mine = ++previewSeq; // a later choice wins over a slower earlier preview
  if (!seal) {
    box.replaceChildren();
    return;
  }
  let nodes;
  try {
    const { result } = await worker.request("approval.preview", { req: requestId, seal, pages: previewPages(details) });
    nodes = result.pages.map((p) => el("figure", {}, el("img", { src: `data:image/png;base64,${p.png_base64}`, alt: `${t("approvePages")} ${p.page}` }), el("figcaption", {}, `${p.page} / ${result.page_count}`)));
  } catch (e) {
    nodes = [el("p", { class: "message" }, errorText(e))];
  }
  if (mine === previewSeq) box.replaceChildren(...nodes);
}

async function approve() {
  const button = $("approve");
  const pinInput = $("pin");
  button.disabled = true;
  setMessage(t("approveWorking"), "info");
  try {
    await worker.request("approval.approve", { req: requestId, seal: $("seal").value, pin: pinInput.value, remember: $("remember").checked });
    window.close();
  } catch (e) {
    pinInput.value = "";
    showError(e);
    if (document.body.dataset.state === "ended") return;
    button.disabled = false;
    pinInput.focus();
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadLanguage();
  localize();
  languageSwitch($("lang"), showSeal);
  try {
    ({ result: details } = await worker.request("approval.get", { req: requestId }));
  } catch (e) {
    showError(e);
    document.body.dataset.state = "gone";
    return;
  }
  $("origin").textContent = details.origin;
  $("frame").textContent = details.frame_origin ?? details.origin;
  $("doc-name").textContent = details.name ?? "—";
  $("doc-pages").textContent = details.pages ?? "?";
  $("doc-size").textContent = `${(details.size / 1024).toFixed(1)} KiB`;
  $("doc-sm3").textContent = details.sm3;
  $("remember-row").hidden = details.site_policy !== "asks"; // a site used for the first time
  await loadSeals().catch(showError); // draws the preview for the first seal offered
  $("seal").addEventListener("change", () => {
    showSeal();
    loadPreview();
  });
  $("approve").addEventListener("click", approve);
  $("pin").addEventListener("keydown", (e) => e.key === "Enter" && approve());
  $("cancel").addEventListener("click", async () => {
    if (document.body.dataset.state !== "ended") await worker.request("approval.cancel", { req: requestId }).catch(() => {});
    window.close();
  });
  $("pin").focus();
  document.body.dataset.state = "ready";
});
