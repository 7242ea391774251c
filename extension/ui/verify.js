// The verify page: a dropped or chosen file (or one handed over by the context menu) goes to the agent, the
// report comes back and is shown with the seal pictures; it exports as JSON, and as PDF through printing.
import { connectWorker, languageSwitch, loadCatalogue, loadLanguage, localize, renderReport, t } from "./common.js";
import { reportLanguage } from "./i18n.js";

const worker = connectWorker();
let lastReport = null;
let lastName = "document";

/** An error in the page's language with its stable code; the technical detail (English) only on hover. */
function showError(e) {
  const zh = reportLanguage() === "zh";
  const text = (zh ? e?.message_zh : e?.message_en) || e?.message_en || e?.message || "";
  const message = document.getElementById("message");
  message.textContent = zh ? `${text}（${e?.code ?? "ERROR"}）` : `${text} (${e?.code ?? "ERROR"})`;
  message.title = e?.detail ?? "";
}

const fileLine = (name) => `${t("verifyFile")}${reportLanguage() === "zh" ? "：" : ": "}${name}`;

async function verifyBytes(bytes, name) {
  const message = document.getElementById("message");
  message.textContent = "";
  document.getElementById("filename").textContent = fileLine(name);
  document.getElementById("report").replaceChildren();
  document.body.dataset.state = "verifying";
  lastName = name;
  try {
    const { result } = await worker.request("verify", { name, format: bytes[0] === 0x25 ? "pdf" : "ofd" }, bytes);
    lastReport = result;
    renderReport(document.getElementById("report"), result, reportLanguage());
    document.getElementById("exports").hidden = false;
  } catch (e) {
    lastReport = null;
    showError(e);
  }
  document.body.dataset.state = "done";
}

async function verifyFile(file) {
  await verifyBytes(new Uint8Array(await file.arrayBuffer()), file.name);
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

document.addEventListener("DOMContentLoaded", async () => {
  await Promise.all([loadLanguage(), loadCatalogue()]);
  localize();
  languageSwitch(document.getElementById("lang"), () => {
    if (lastReport) renderReport(document.getElementById("report"), lastReport, reportLanguage());
    if (lastName && document.getElementById("filename").textContent) document.getElementById("filename").textContent = fileLine(lastName);
  });
  const drop = document.getElementById("drop");
  document.getElementById("file").addEventListener("change", (e) => e.target.files[0] && verifyFile(e.target.files[0]));
  drop.addEventListener("dragover", (e) => e.preventDefault());
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) verifyFile(e.dataTransfer.files[0]);
  });
  document.getElementById("export-json").addEventListener("click", () =>
    download(`${lastName}.verification.json`, new Blob([JSON.stringify(lastReport, null, 2)], { type: "application/json" })),
  );
  document.getElementById("export-pdf").addEventListener("click", () => window.print());
  // Opened from the context menu: the worker fetched the link's document and holds it under this id.
  const pendingId = new URLSearchParams(location.search).get("doc");
  if (pendingId) {
    try {
      const { result, document: bytes } = await worker.request("pending.take", { id: pendingId });
      await verifyBytes(bytes, result.name);
    } catch (e) {
      showError(e);
    }
  }
  if (document.body.dataset.state === "loading") document.body.dataset.state = "ready";
});

// For the end-to-end tests and for automation from the extension itself.
globalThis.sealbridgeVerifyBytes = verifyBytes;
