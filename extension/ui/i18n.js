// Messages for the extension's own pages. The browser's language by default (chrome.i18n); the user can pick
// 中文 or English in the page header or the options, stored as `uiLanguage` — a clerk's browser is not always
// in the language the clerk reads, and screenshots for support are often wanted in the other one.
const ext = globalThis.browser ?? globalThis.chrome;
export const LANGUAGES = { zh_CN: "中文", en: "English" };
let dict = null; // the chosen language's messages.json, or null for the browser's own
let current = null; // "zh_CN" | "en" once loadLanguage ran

/** Fill a messages.json entry: named placeholders ($N$ → "$1") and positional $1…$9 from `subs`. */
export function formatMessage(entry, subs = []) {
  if (!entry || typeof entry.message !== "string") return null;
  const named = Object.fromEntries(Object.entries(entry.placeholders ?? {}).map(([k, v]) => [k.toLowerCase(), v.content]));
  const positional = (s) => s.replace(/\$([1-9])/g, (_, n) => String(subs[Number(n) - 1] ?? ""));
  // One pass, as Chrome does: "$$" is a dollar, $NAME$ a placeholder (whose content may use $1…), $1 a sub.
  return entry.message.replace(/\$\$|\$([A-Za-z0-9_@]+)\$|\$([1-9])/g, (m, name, n) => {
    if (m === "$$") return "$";
    if (n) return positional(m);
    const content = named[name.toLowerCase()];
    return content === undefined ? m : positional(content);
  });
}

export function t(key, ...subs) {
  const own = dict ? formatMessage(dict[key], subs) : null;
  return own ?? (ext.i18n.getMessage(key, subs.map(String)) || key);
}

export function currentLanguage(stored) {
  if (Object.hasOwn(LANGUAGES, stored)) return stored;
  return ext.i18n.getUILanguage().toLowerCase().startsWith("zh") ? "zh_CN" : "en";
}

/** Load the user's choice, else the browser's language, before the page localizes itself. The page always
 * uses one messages.json, so the 中文 | English switch tells the truth about what is shown. */
export async function loadLanguage() {
  const { uiLanguage } = await ext.storage.local.get("uiLanguage");
  current = currentLanguage(uiLanguage);
  try {
    dict = await (await fetch(ext.runtime.getURL(`_locales/${current}/messages.json`))).json();
  } catch {
    dict = null; // fall back to chrome.i18n
  }
  return current;
}

/** The report catalogue's language for the page's language: "zh" or "en". */
export function reportLanguage() {
  return (current ?? currentLanguage()) === "zh_CN" ? "zh" : "en";
}

export async function setLanguage(lang) {
  if (lang === "auto") await ext.storage.local.remove("uiLanguage");
  else if (Object.hasOwn(LANGUAGES, lang)) await ext.storage.local.set({ uiLanguage: lang });
  return loadLanguage();
}

/** Fill every [data-i18n] element with its message, and the window title from the page's h1. */
export function localize(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  document.documentElement.lang = (current ?? currentLanguage()) === "zh_CN" ? "zh-CN" : "en";
  const title = root.querySelector("h1[data-i18n]");
  if (title) document.title = `${title.textContent} — SealBridge`;
}

/** The 中文 | English switch in a page's header; `onChange` re-renders what localize() cannot reach. */
export function languageSwitch(container, onChange = () => {}) {
  const render = (active) => {
    container.replaceChildren(
      ...Object.entries(LANGUAGES).map(([code, name]) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = code === active ? "lang active" : "lang";
        b.dataset.lang = code;
        b.textContent = name;
        b.addEventListener("click", async () => {
          render(await setLanguage(code));
          localize();
          onChange();
        });
        return b;
      }),
    );
  };
  ext.storage.local.get("uiLanguage").then(({ uiLanguage }) => render(currentLanguage(uiLanguage)));
}
