// The batch approval window: one PIN for many documents, but never blind. Every document is listed (name,
// pages, size, SM3, the seal that lands on it) and must be shown — its preview with the seal drawn where it
// will land — before the approve button enables; the clerk pages through with Previous/Next (or ← →) and may
// untick documents. The agent enforces the same rule (BATCH_NOT_REVIEWED) and records what was shown.
import { connectApprovalWorker, pinErrorText, setMessage } from "./approval-window.js";
import { el, errorText, languageSwitch, loadLanguage, localize, t } from "./common.js";
import { previewPages, sealKindLabel, sealOptionLabel } from "./approve-view.js";
import { humanSize, nextUnseen, reviewState, shortHash, stepDocument } from "./approve-batch-view.js";

const requestId = new URLSearchParams(location.search).get("req");
const $ = (id) => document.getElementById(id);
const MAX_PAGES_SHOWN = 4; // per document: enough to see where the seal lands, quick enough to page through
let details = null;
let seals = [];
let current = 0;
const ticked = new Set();
const shown = new Set();

const worker = connectApprovalWorker(() => requestId, () => loadSeals().catch(() => {}));

function showError(e) {
  setMessage(pinErrorText(e));
}

function sealName(id) {
  return seals.find((s) => s.id === id)?.name ?? id;
}

/** The seal that lands on a document: its own when the page asked for one, else the one chosen here. */
function sealOf(doc) {
  return doc.seal_id || $("seal").value;
}

function renderList() {
  const rows = details.documents.map((doc) => {
    const ready = doc.status === "ready";
    const box = el("input", { type: "checkbox", "data-index": String(doc.index) });
    box.checked = ready && ticked.has(doc.index);
    box.disabled = !ready;
    box.addEventListener("change", () => {
      if (box.checked) ticked.add(doc.index);
      else ticked.delete(doc.index);
      update();
    });
    const name = el("td", { class: "name", title: doc.name ?? "" }, doc.name ?? "—");
    if (ready) name.addEventListener("click", () => show(doc.index));
    const seal = ready ? (doc.seal_id ? `${sealName(doc.seal_id)} (${t("batchSealOwn")})` : sealName($("seal").value)) : errorText(doc.error ?? {}) + ` — ${t("batchFailed")}`;
    const classes = [ready ? "" : "failed", ready && !ticked.has(doc.index) ? "unticked" : "", doc.index === current ? "current" : ""].filter(Boolean).join(" ");
    return el(
      "tr",
      { class: classes, "data-index": String(doc.index), "data-status": doc.status },
      el("td", {}, box),
      el("td", {}, String(doc.index + 1)),
      name,
      el("td", {}, doc.page_count ?? "?"),
      el("td", {}, humanSize(doc.size)),
      el("td", { class: "mono", title: doc.sm3 ?? "" }, shortHash(doc.sm3)),
      el("td", { colspan: ready ? "1" : "2" }, seal),
      ...(ready ? [el("td", { class: "shown" }, shown.has(doc.index) ? "✓" : "")] : []),
    );
  });
  $("docs").tBodies[0].replaceChildren(...rows);
}

function update() {
  const state = reviewState(details.documents, ticked, shown);
  $("summary").textContent = t("batchSummary", String(details.documents.length), String(state.shown), String(state.include.length));
  const approve = $("approve");
  approve.textContent = t("batchApprove", String(state.include.length));
  approve.disabled = !state.canApprove || seals.length === 0 || document.body.dataset.state === "ended";
  document.body.dataset.reviewed = state.canApprove ? "all" : "partly";
  if (!state.include.length) setMessage(t("batchNothingTicked"), "info");
  else if (state.unseen.length) setMessage(t("batchNeedsReview", String(state.unseen.length)), "info");
  else if ($("message").classList.contains("info")) setMessage("", "info");
  renderList();
}

let previewSeq = 0;

/** Show one document: its preview with the seal where it lands. Marked seen once the preview is drawn. */
async function show(index) {
  current = index;
  const doc = details.documents[index];
  const position = details.documents.filter((d) => d.status === "ready").findIndex((d) => d.index === index) + 1;
  const total = details.documents.filter((d) => d.status === "ready").length;
  $("position").textContent = t("batchPosition", String(position), String(total), doc.name ?? "—");
  const mine = ++previewSeq;
  const seal = sealOf(doc);
  update();
  if (!seal) return;
  let nodes;
  try {
    const pages = previewPages({ pages: doc.page_count, placements: doc.placements }).slice(0, MAX_PAGES_SHOWN);
    const { result } = await worker.request("approval.preview", { req: requestId, seal, index, pages });
    nodes = result.pages.map((p) => el("figure", {}, el("img", { src: `data:image/png;base64,${p.png_base64}`, alt: `${doc.name ?? ""} ${p.page}` }), el("figcaption", {}, `${p.page} / ${result.page_count}`)));
    if (mine === previewSeq) shown.add(index);
  } catch (e) {
    nodes = [el("p", { class: "message" }, errorText(e))];
  }
  if (mine !== previewSeq) return;
  $("preview").replaceChildren(...nodes);
  $("preview").dataset.index = String(index);
  update();
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
  $("seal-meta").textContent = seal ? [sealKindLabel(seal.kind), `esID ${seal.esID ?? seal.id}`, seal.valid_to ? `${t("validUntil")} ${seal.valid_to.slice(0, 10)}` : ""].filter(Boolean).join(" · ") : "";
}

async function loadSeals() {
  const { result } = await worker.request("approval.seals", { req: requestId });
  const select = $("seal");
  const previous = select.value;
  seals = result.seals;
  select.replaceChildren(...seals.map((s) => el("option", { value: s.id }, sealOptionLabel(s))));
  if (seals.some((s) => s.id === previous)) select.value = previous;
  else if (details?.seal && seals.some((s) => s.id === details.seal)) select.value = details.seal;
  showSeal();
  update();
}

async function approve() {
  const button = $("approve");
  const pinInput = $("pin");
  const { include } = reviewState(details.documents, ticked, shown);
  button.disabled = true;
  setMessage(t("approveWorking"), "info");
  try {
    await worker.request("approval.approve", { req: requestId, seal: $("seal").value, pin: pinInput.value, remember: $("remember").checked, include });
    window.close();
  } catch (e) {
    pinInput.value = "";
    showError(e);
    if (document.body.dataset.state === "ended") return;
    button.disabled = false;
    pinInput.focus();
  }
}

function page(step) {
  const next = step > 0 ? (nextUnseen(details.documents, current, ticked, shown) ?? stepDocument(details.documents, current, 1)) : stepDocument(details.documents, current, -1);
  show(next);
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadLanguage();
  localize();
  languageSwitch($("lang"), () => {
    showSeal();
    update();
    show(current);
  });
  try {
    ({ result: details } = await worker.request("batch.get", { req: requestId }));
  } catch (e) {
    showError(e);
    document.body.dataset.state = "gone";
    return;
  }
  $("origin").textContent = details.origin;
  $("frame").textContent = details.frame_origin ?? details.origin;
  $("remember-row").hidden = details.site_policy !== "asks";
  for (const d of details.documents) if (d.status === "ready") ticked.add(d.index);
  current = stepDocument(details.documents, -1, 1);
  await loadSeals().catch(showError);
  $("seal").addEventListener("change", () => {
    showSeal();
    show(current);
  });
  $("prev").addEventListener("click", () => page(-1));
  $("next").addEventListener("click", () => page(1));
  document.addEventListener("keydown", (e) => {
    if (e.target === $("pin")) return;
    if (e.key === "ArrowRight") page(1);
    else if (e.key === "ArrowLeft") page(-1);
  });
  $("approve").addEventListener("click", approve);
  $("pin").addEventListener("keydown", (e) => e.key === "Enter" && !$("approve").disabled && approve());
  $("cancel").addEventListener("click", async () => {
    if (document.body.dataset.state !== "ended") await worker.request("approval.cancel", { req: requestId }).catch(() => {});
    window.close();
  });
  document.body.dataset.state = "ready";
  await show(current);
});
