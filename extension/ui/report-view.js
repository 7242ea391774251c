// The verification report (v2) on the extension's pages: a headline chosen by what happened, the document
// verified, and per seal its picture, who sealed it (names, not DNs), when (Beijing time), the seal's facts,
// warnings each on its own line, and every check — all sentences from the shared catalogue
// (common/report-messages.json, rendered by common/report-text.js), so a Chinese screen shows no English.
import { createRenderer } from "../common/report-text.js";
import { el } from "./common.js";

const ext = globalThis.browser ?? globalThis.chrome;
export const CHECK_ORDER = ["integrity", "changes_after", "signature", "seal", "signer_in_seal", "certificate", "platform_status", "timestamp"];
// Warnings that change what a clerk should do: amber, even on a valid seal.
const ATTENTION = new Set(["SEAL_REVOKED_AFTER_SIGNING", "SEAL_SUSPENDED_NOW", "UNSIGNED_CHANGES_AFTER"]);

let renderer = null;

export async function loadCatalogue() {
  if (!renderer) renderer = createRenderer(await (await fetch(ext.runtime.getURL("common/report-messages.json"))).json());
  return renderer;
}

export function useCatalogue(catalogue) {
  renderer = createRenderer(catalogue);
  return renderer;
}

/** "valid" (green), "attention" (amber: valid but e.g. revoked since), "doubt" (amber), "invalid" (red). */
export function toneOf(verdict, warnings = []) {
  if (verdict === "invalid") return "invalid";
  if (verdict === "valid") return warnings.some((w) => ATTENTION.has(w.code)) ? "attention" : "valid";
  return "doubt";
}

/** Why a seal is not valid, in one line: the check that decides it (failed first, else not confirmed). */
export function reasonOf(seal, lang, R = renderer) {
  if (seal.verdict === "valid") return "";
  const wanted = seal.verdict === "invalid" ? "failed" : "unknown";
  for (const name of CHECK_ORDER) {
    const c = seal.checks?.[name];
    if (c && c.status === wanted && c.applicable !== false) return `${R.enumText("check", name, lang)}${lang === "zh" ? "：" : ": "}${checkText(c, lang, R)}`;
  }
  return "";
}

export function checkText(check, lang, R = renderer) {
  return (check.reasons ?? []).map((r) => R.reasonText(r, lang)).join(lang === "zh" ? "；" : "; ");
}

export function renderReport(container, report, lang) {
  const R = renderer;
  const label = (key) => R.enumText("label", key, lang);
  const time = (v) => R.beijingTime(v);
  container.replaceChildren();
  const allWarnings = (report.seals ?? []).flatMap((s) => s.warnings ?? []);
  const tone = report.verdict === "no_seals" ? "doubt" : toneOf(report.verdict, allWarnings);
  container.append(
    el("div", { class: `verdict verdict-${report.verdict} tone-${tone}`, id: "verdict", "data-verdict": report.verdict, "data-headline": report.headline?.code ?? "", "data-tone": tone }, R.reasonText(report.headline, lang)),
  );
  const doc = report.document ?? {};
  const facts = el("dl", { class: "facts compact doc-facts", id: "doc-facts" });
  // Names, codes and digests are data, not sentences: marked translate="no" (they stay as written in any language).
  const fact = (dl, key, value, cls, data = false) =>
    value !== null && value !== undefined && value !== "" && dl.append(el("dt", {}, label(key)), el("dd", { ...(cls ? { class: cls } : {}), ...(data ? { translate: "no" } : {}) }, value));
  const pages = doc.pages ? (lang === "zh" ? `，${doc.pages} 页` : `, ${doc.pages} page${doc.pages === 1 ? "" : "s"}`) : "";
  fact(facts, "size", doc.size !== undefined ? `${doc.size.toLocaleString("en")} ${label("bytes")}${pages}` : null);
  fact(facts, "sm3", doc.sm3, "mono", true);
  fact(facts, "validation_time", time(report.validation_time));
  fact(facts, "platform", report.policy?.platform?.url, null, true);
  container.append(facts);
  for (const seal of report.seals ?? []) container.append(sealCard(seal, lang, R, label, time, fact));
}

function sealCard(seal, lang, R, label, time, fact) {
  const tone = toneOf(seal.verdict, seal.warnings);
  const card = el("section", { class: `seal-card verdict-${seal.verdict} tone-${tone}`, "data-seal": seal.id, "data-verdict": seal.verdict, "data-tone": tone });
  const info = seal.seal;
  const pic = info?.picture_png_base64
    ? el("img", { class: "seal-picture", alt: info.name, src: `data:image/png;base64,${info.picture_png_base64}` })
    : el("div", { class: "seal-picture none" }, "—");
  const facts = el("dl", { class: "facts compact" });
  const signer = seal.signer;
  if (signer) {
    const org = signer.organisation && signer.organisation !== signer.name ? ` · ${signer.organisation}` : "";
    fact(facts, "signer", `${signer.name}${org}`, null, true);
    fact(facts, "uscc", signer.uscc, null, true);
    fact(facts, "issuer", signer.issuer, null, true);
  }
  if (seal.signed_at) fact(facts, "signed_at", `${time(seal.signed_at)}${lang === "zh" ? "（" : " ("}${R.enumText("signing_time_source", seal.signing_time_source, lang)}${lang === "zh" ? "）" : ")"}`);
  if (info) {
    fact(facts, "seal_id", info.esID, null, true);
    fact(facts, "seal_type", info.type_name?.[lang] ?? label("unknown_type"));
    fact(facts, "seal_version", `V${info.version}`);
    fact(facts, "seal_validity", `${time(info.valid_from)} ${label("to")} ${time(info.valid_to)}`);
    if (info.made_at) fact(facts, "seal_made_at", time(info.made_at));
  }
  if (seal.signature?.algorithm) fact(facts, "algorithm", seal.signature.algorithm, null, true);
  if (seal.covers?.pages?.length) fact(facts, "covers_pages", seal.covers.pages.join(lang === "zh" ? "、" : ", "));
  fact(facts, "indication", `${seal.indication}${seal.sub_indication ? ` / ${seal.sub_indication}` : ""}`, "mono", true);
  const title = info ? info.name : seal.id;
  const head = el("div", { class: "seal-head" }, el("h2", {}, el("span", { translate: "no" }, title), " ", el("span", { class: "badge" }, R.reasonText(seal.headline, lang))), facts);
  card.append(el("div", { class: "seal-top" }, pic, head));
  for (const w of seal.warnings ?? []) {
    card.append(el("p", { class: `warning${ATTENTION.has(w.code) ? " attention" : ""}`, "data-warning": w.code }, el("strong", {}, `${label("warnings")}${lang === "zh" ? "：" : ": "}`), R.reasonText(w, lang)));
  }
  const reason = reasonOf(seal, lang, R);
  if (reason) card.append(el("p", { class: "reason" }, el("strong", {}, `${label("reason")}${lang === "zh" ? "：" : ": "}`), reason));
  const table = el("table", { class: "checks" });
  for (const name of CHECK_ORDER) {
    const c = seal.checks?.[name];
    if (!c) continue;
    const status = c.applicable === false ? "not_applicable" : c.status;
    table.append(
      el("tr", { class: status === "not_applicable" ? "check-na" : `check-${c.status}`, "data-check": name }, el("td", {}, R.enumText("check", name, lang)), el("td", { class: "status" }, R.enumText("status", status, lang)), el("td", { class: "detail" }, checkText(c, lang, R))),
    );
  }
  card.append(table);
  return card;
}
