// Small building blocks shared by the screens: refusals, error text, tables, confirmations.
import { h, notice } from "./dom.js";
import { number } from "./format.js";
import { t } from "./i18n.js";

export function errorText(err) {
  return err && err.offline ? t("error.offline") : (err && err.message) || String(err);
}

// The screen of a role that may not: the title and a refusal (the API would refuse it anyway).
export function forbidden(titleKey) {
  return h("section", {}, h("h1", { text: t(titleKey) }), notice("error", t("error.forbidden")));
}

// A table with a caption (read by screen readers), column headers and rows of cells (or its own tbody).
export function table(caption, headers, rows, attrs = {}) {
  const body = rows instanceof HTMLTableSectionElement ? rows : h("tbody", {}, rows);
  return h("table", attrs,
    h("caption", { class: "sr-only", text: caption }),
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col", class: c.num ? "num" : null, text: c.text ?? c })))),
    body);
}

// Runs `work` with the button disabled; an error lands in `out` (a live region).
export async function busy(button, out, work) {
  if (out) out.replaceChildren();
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (err) {
    if (out) out.append(notice("error", errorText(err)));
    else throw err;
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function messages() {
  return h("div", { class: "messages", "aria-live": "polite" });
}

// Field errors of a problem+json answer onto the fields named (`fields`: name -> field box).
export function showFieldErrors(err, fields, out) {
  let placed = 0;
  for (const { field, detail } of (err.fieldErrors || [])) {
    const key = String(field || "").split(".").pop();
    const box = fields[field] || fields[key];
    if (box) { box.setError(detail); placed += 1; }
  }
  if (!placed) out.append(notice("error", errorText(err)));
}

export function bytes(n) {
  if (n < 1024) return `${number(n, 0)} B`;
  if (n < 1024 * 1024) return `${number(n / 1024, 1)} KB`;
  return `${number(n / 1024 / 1024, 1)} MB`;
}

// A new idempotency key (a retried request is then recorded once).
export function newKey(prefix) {
  const rnd = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
