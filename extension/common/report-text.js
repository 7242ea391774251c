// Sentences of a verification report (v2) from its codes, in Chinese or English: the same catalogue and the
// same template rules as Python's stamping/messages.py (report-messages.json is a byte-identical copy; a
// test compares them and the output of both renderers). `{name}` a parameter, `{name|time}` Beijing time,
// `{name|ENUM}` a value of enums.ENUM; lists are joined; a missing parameter shows as "—", never "null".
const MISSING = "—";
const PLACEHOLDER = /\{(\w+)(?:\|(\w+))?\}/g;

/** "2026-12-06 09:31:23 (UTC+8)" for an ISO 8601 time (no zone means UTC); other text is shown as written. */
export function beijingTime(value) {
  if (value === null || value === undefined || value === "") return MISSING;
  const text = String(value);
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, zone] = m;
  let offsetMin = 0;
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  const utcMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMin * 60000;
  const bj = new Date(utcMs + 8 * 3600000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${bj.getUTCFullYear()}-${pad(bj.getUTCMonth() + 1)}-${pad(bj.getUTCDate())} ${pad(bj.getUTCHours())}:${pad(bj.getUTCMinutes())}:${pad(bj.getUTCSeconds())} (UTC+8)`;
}

export function createRenderer(catalogue) {
  const enumText = (name, value, lang) => {
    const entry = catalogue.enums?.[name]?.[String(value)];
    if (entry) return entry[lang];
    return value === null || value === undefined ? MISSING : String(value);
  };
  const valueText = (name, value, kind, lang) => {
    if (value === null || value === undefined || value === "") return MISSING;
    if (typeof value === "object" && !Array.isArray(value) && "code" in value) return reasonText(value, lang);
    if (Array.isArray(value)) {
      const sep = name === "chain" ? " → " : lang === "zh" ? "、" : ", ";
      return value.map((v) => valueText(name, v, kind, lang)).join(sep) || MISSING;
    }
    if (kind === "time") return beijingTime(value);
    if (kind) return enumText(kind, value, lang);
    return String(value);
  };
  const render = (code, params = {}, lang = "zh") => {
    const entry = catalogue.codes?.[code];
    if (!entry) return String(code);
    return entry[lang].replace(PLACEHOLDER, (_, name, kind) => valueText(name, params[name], kind, lang));
  };
  const reasonText = (reason, lang = "zh") => {
    const { code, ...params } = reason ?? {};
    return render(code, params, lang);
  };
  return { render, reasonText, enumText, beijingTime };
}
