// Helpers shared by the demo portal pages: page facts, error text, report rendering, download links.
export async function demoFacts() {
  const res = await fetch("/demo.json");
  return res.json();
}

export function errorText(e) {
  if (e && e.code) return `${e.code}: ${e.messageZh || ""} / ${e.messageEn || e.message}${e.detail ? ` (${e.detail})` : ""}`;
  return String(e);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const MARK = { ok: "✓", failed: "✗", unknown: "?" };
const VERDICT_ZH = { valid: "有效", invalid: "无效", indeterminate: "无法确定", no_seals: "无签章" };

/** The verification report as a table per seal (text only: nothing from the report is parsed as HTML). */
export function renderReport(target, report) {
  target.replaceChildren();
  target.hidden = false;
  target.append(el("p", { class: `verdict ${report.verdict}` },
    `结论 / verdict: ${VERDICT_ZH[report.verdict] || report.verdict} (${report.verdict}) · ${report.format.toUpperCase()} · ${report.seals.length} 个签章`));
  for (const s of report.seals) {
    const box = el("div", { class: "seal-report" });
    if (s.seal && s.seal.picture_png_base64) {
      box.append(el("img", { src: `data:image/png;base64,${s.seal.picture_png_base64}`, alt: "seal", class: "seal-pic" }));
    }
    box.append(el("p", {}, el("b", {}, `${s.seal ? s.seal.name : "?"}`), ` [${s.seal ? s.seal.esID : "?"}] · ${s.verdict}`));
    box.append(el("p", {}, `签章人 signer: ${s.signer ? s.signer.subject : "?"}`));
    box.append(el("p", {}, `时间 signed at: ${s.signed_at || "?"}`));
    const table = el("table", { class: "checks" });
    for (const [name, c] of Object.entries(s.checks)) {
      const na = c.status === "unknown" && String(c.detail).startsWith("not applicable");
      const mark = na ? "–" : MARK[c.status] || "?";
      table.append(el("tr", { class: na ? "na" : c.status }, el("td", { class: "name" }, `${mark} ${name}`), el("td", {}, c.detail)));
    }
    box.append(table);
    target.append(box);
  }
  const json = new Blob([JSON.stringify(report, null, 1)], { type: "application/json" });
  target.append(el("p", {}, el("a", { href: URL.createObjectURL(json), download: "verification-report.json" }, "下载报告 JSON / report as JSON")));
}

export function showStamped(target, blob, name, verifyFn) {
  target.replaceChildren();
  target.hidden = false;
  const url = URL.createObjectURL(blob);
  target.append(el("p", { class: "verdict valid" }, `已盖章 / stamped: ${name} (${blob.size.toLocaleString()} bytes) `,
    el("a", { href: url, download: name }, "下载 / download")));
  if (verifyFn) {
    const btn = el("button", {}, "立即验章 / verify it");
    btn.addEventListener("click", () => verifyFn(blob, name));
    target.append(btn);
  }
}

export function showError(target, e) {
  target.replaceChildren(el("p", { class: "verdict invalid" }, errorText(e)));
  if (e && e.code === "ORIGIN_NOT_ALLOWED") {
    target.append(el("p", { class: "hint" },
      `请在扩展的设置页“允许使用电子印章的网站”中添加 ${location.origin} / ` +
      `add ${location.origin} to "Sites allowed to use seals" in the extension's options (toolbar icon → SealBridge).`));
  }
  target.hidden = false;
}
