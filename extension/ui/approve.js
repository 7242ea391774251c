// The approval window: the only place a PIN is typed. It shows who asks (origin from the browser, not the
// page), what will be stamped (name, pages, size, SM3, a preview with the seal where it will land) and lets the
// user choose the seal. The PIN goes from here to the service worker and on to the agent, nowhere else.
import { beijingTime } from "../common/report-text.js";
import { connectApprovalWorker, pinErrorText, setMessage } from "./approval-window.js";
import { el, errorText, languageSwitch, loadLanguage, localize, t } from "./common.js";
import { formatSize, pickSeal, previewPages, sealKindLabel, sealOptionLabel, sealStatus } from "./approve-view.js";

const query = new URLSearchParams(location.search);
let requestId = query.get("req"); // a window opened early for a big document learns it from `approval.wait`
const $ = (id) => document.getElementById(id);
let details = null;
let seals = [];
const refused = new Map(); // seal id -> the platform's refusal code, for this request
// The platform refused the chosen seal: the request stays open and the clerk chooses another one.
const SEAL_REFUSALS = new Set(["SEAL_REVOKED", "SEAL_SUSPENDED", "SEAL_EXPIRED", "SEAL_NOT_YET_VALID", "SEAL_NOT_FOR_SIGNER"]);
const STATE_OF_REFUSAL = { SEAL_REVOKED: "revoked", SEAL_SUSPENDED: "suspended", SEAL_EXPIRED: "expired", SEAL_NOT_YET_VALID: "not_yet_valid", SEAL_NOT_FOR_SIGNER: "authorization_ended" };

const worker = connectApprovalWorker(() => requestId, async (data) => {
  document.body.dataset.token = data.type;
  await loadSeals().catch(() => {});
});

function showError(e) {
  if (SEAL_REFUSALS.has(e.code)) setMessage(`${t("sealRefusedChooseAnother", t(`sealState_${STATE_OF_REFUSAL[e.code]}`))} (${e.code})`);
  else setMessage(pinErrorText(e));
}

/** A seal's state as the chooser shows it: what the platform said when listed, or its refusal since. */
function stateOf(seal) {
  const code = refused.get(seal.id);
  if (code) return { state: STATE_OF_REFUSAL[code] ?? "unknown", usable: false, code };
  return sealStatus(seal);
}

function optionLabel(seal) {
  const st = stateOf(seal);
  const base = sealOptionLabel(seal);
  return st.usable ? base : `${base} — ${t(`sealState_${st.state}`)}`;
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
  // Who signs: names, not a distinguished name.
  const signer = $("signer");
  signer.replaceChildren();
  for (const [key, value] of [["approveSigner", seal?.holder], ["approveCompany", seal?.company], ["approveIssuer", seal?.issuer]]) {
    if (value) signer.append(el("dt", {}, t(key)), el("dd", {}, value));
  }
  const st = seal ? stateOf(seal) : null;
  $("seal-state").textContent = st && !st.usable ? t("sealUnusable", t(`sealState_${st.state}`)) : "";
  $("seal-state").dataset.state = st?.state ?? "";
  $("approve").disabled = !seal || !st.usable || document.body.dataset.state === "ended";
}

async function loadSeals() {
  const { result } = await worker.request("approval.seals", { req: requestId });
  const select = $("seal");
  const previous = select.value;
  seals = result.seals;
  fillChooser(previous);
  // The chosen seal went away with its key (or a first seal arrived): the preview must follow the choice.
  if (select.value !== previous && details) await loadPreview();
}

/** The chooser: every seal, the unusable ones shown but disabled with their reason. */
function fillChooser(previous) {
  const select = $("seal");
  select.replaceChildren(
    ...seals.map((s) => {
      const st = stateOf(s);
      const attrs = { value: s.id, "data-state": st.state };
      if (!st.usable) attrs.disabled = "";
      return el("option", attrs, optionLabel(s));
    }),
  );
  // The ones that cannot be used, said in words beside the chooser (a closed list hides its disabled lines).
  $("unusable").replaceChildren(
    ...seals
      .filter((s) => !stateOf(s).usable)
      .map((s) => el("li", { "data-seal": s.id, "data-state": stateOf(s).state }, unusableLine(s))),
  );
  const chosen = pickSeal(seals.map((s) => ({ ...s, status: stateOf(s) })), previous, details?.seal);
  select.value = chosen;
  if (!chosen) setMessage(t("approveNoUsableSeal"));
  showSeal();
}

/** The language changed: the same options and lines, their words in the other language (the elements stay,
 * so nothing the clerk is pointing at goes away). */
function relabel() {
  for (const option of $("seal").options) {
    const seal = seals.find((s) => s.id === option.value);
    if (seal) option.textContent = optionLabel(seal);
  }
  for (const li of $("unusable").children) {
    const seal = seals.find((s) => s.id === li.dataset.seal);
    if (seal) li.textContent = unusableLine(seal);
  }
  showSeal();
}

const unusableLine = (s) => `${sealOptionLabel(s)}：${t("sealUnusable", t(`sealState_${stateOf(s).state}`))}`;

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
    nodes = result.pages.map((p) => {
      const src = `data:image/png;base64,${p.png_base64}`;
      const img = el("img", { src, alt: `${t("approvePages")} ${p.page}`, "data-page": String(p.page), title: t("approveEnlarge") });
      img.addEventListener("click", () => enlarge(src, img.alt));
      return el("figure", {}, img, el("figcaption", {}, `${p.page} / ${result.page_count}`));
    });
  } catch (e) {
    nodes = [el("p", { class: "message" }, errorText(e))];
  }
  if (mine === previewSeq) box.replaceChildren(...nodes);
}

/** A page of the preview at the window's full width. */
function enlarge(src, alt) {
  $("zoom-img").src = src;
  $("zoom-img").alt = alt;
  $("zoom").showModal();
}

async function approve() {
  if ($("approve").disabled) return; // Enter in the PIN field with no usable seal chosen
  const button = $("approve");
  const pinInput = $("pin");
  button.disabled = true;
  setMessage(t("approveWorking"), "info");
  try {
    await worker.request("approval.approve", { req: requestId, seal: $("seal").value, pin: pinInput.value });
    window.close();
  } catch (e) {
    pinInput.value = "";
    if (SEAL_REFUSALS.has(e.code)) {
      // The request is still open: that seal is out, the next usable one is offered.
      refused.set($("seal").value, e.code);
      const before = $("seal").value;
      fillChooser(before);
      if ($("seal").value !== before) loadPreview();
    }
    showError(e);
    if (document.body.dataset.state === "ended") return;
    showSeal();
    pinInput.focus();
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadLanguage();
  localize();
  languageSwitch($("lang"), relabel);
  $("zoom-close").addEventListener("click", () => $("zoom").close());
  $("zoom").addEventListener("click", (e) => e.target === $("zoom") && $("zoom").close());
  try {
    if (!requestId) {
      // Opened as soon as a big document was sent: say so while the agent reads it.
      document.body.dataset.state = "preparing";
      $("preparing").hidden = false;
      $("approve").disabled = true;
      const leave = () => window.close();
      $("cancel").addEventListener("click", leave);
      try {
        ({ result: { req: requestId } } = await worker.request("approval.wait", { job: query.get("job") }));
      } finally {
        $("cancel").removeEventListener("click", leave);
      }
      $("preparing").hidden = true;
    }
    ({ result: details } = await worker.request("approval.get", { req: requestId }));
  } catch (e) {
    showError(e);
    $("preparing").hidden = true;
    document.body.dataset.state = "gone";
    $("approve").disabled = true;
    $("cancel").textContent = t("closeButton");
    $("cancel").addEventListener("click", () => window.close());
    return;
  }
  $("origin").textContent = details.origin;
  $("frame").textContent = details.frame_origin ?? details.origin;
  $("doc-name").textContent = details.name ?? "—";
  $("doc-pages").textContent = details.pages ?? "?";
  $("doc-size").textContent = formatSize(details.size);
  $("doc-sm3").textContent = details.sm3;
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
