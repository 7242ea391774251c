// The site prompt: a site the user has neither allowed nor denied asks to use seals. It shows who asks (the
// top-level origin, and the frame's when a frame asks, from the browser — never from the page) with the
// registrable domain emphasised, what the site asks for, and takes the answer: once / always / deny.
import { connectWorker, el, errorText, languageSwitch, loadLanguage, localize, t } from "./common.js";
import { describeOrigin } from "../background/policy.js";

const promptId = new URLSearchParams(location.search).get("p");
const $ = (id) => document.getElementById(id);
const worker = connectWorker();
let asked = null;

function originNode(origin) {
  const d = describeOrigin(origin);
  return [d.scheme, d.before, el("span", { class: "domain" }, d.domain), d.port];
}

function render() {
  if (!asked) return;
  $("top-origin").replaceChildren(...originNode(asked.top));
  const framed = asked.frame && asked.frame !== asked.top;
  $("frame-row").hidden = !framed;
  // A frame asks: the frame's site is the one acting, shown first; the page around it below.
  if (framed) {
    $("top-origin").replaceChildren(...originNode(asked.frame));
    $("frame-origin").replaceChildren(...originNode(asked.top));
  }
  $("what").textContent = t(`siteAsks_${asked.method.replace(".", "_")}`);
  $("insecure").hidden = [asked.top, asked.frame].every((o) => describeOrigin(o).secure);
}

async function answer(choice) {
  for (const id of ["once", "always", "deny"]) $(id).disabled = true;
  try {
    await worker.request("site.decide", { p: promptId, answer: choice });
  } catch (e) {
    $("message").textContent = errorText(e);
    return;
  }
  window.close();
}

document.addEventListener("DOMContentLoaded", async () => {
  await loadLanguage();
  localize();
  languageSwitch($("lang"), render);
  try {
    ({ result: asked } = await worker.request("site.get", { p: promptId }));
  } catch (e) {
    $("message").textContent = errorText(e);
    for (const id of ["once", "always", "deny"]) $(id).disabled = true;
    document.body.dataset.state = "gone";
    return;
  }
  render();
  for (const id of ["once", "always", "deny"]) $(id).addEventListener("click", () => answer(id));
  $("deny").focus(); // Enter on a surprise prompt must not grant anything
  document.body.dataset.state = "ready";
});
