// The public receipt check: what a receipt's QR code opens. No account needed.
import { api, ApiError, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { language, t } from "../i18n.js";

export async function render(ctx, { params }) {
  const result = h("div", { id: "check-result", "aria-live": "polite" });
  const f = {
    t: field(t("check.tenant"), { id: "check-t", value: params.get("t") || "", autocomplete: "off" }),
    c: field(t("check.chain"), { id: "check-c", value: params.get("c") || "", autocomplete: "off" }),
    s: field(t("check.seq"), { id: "check-s", value: params.get("s") || "", inputmode: "numeric", autocomplete: "off" }),
    h: field(t("check.code"), { id: "check-h", value: params.get("h") || "", autocomplete: "off" }, t("check.code_hint")),
  };
  const form = h("form", { class: "card narrow", novalidate: true }, Object.values(f),
    h("button", { type: "submit", class: "primary", text: t("check.submit") }));
  async function run() {
    result.replaceChildren(notice("info", t("check.checking")));
    try {
      const out = await api("GET", `/v1/verify/receipt${query({ t: f.t.input.value.trim(), c: f.c.input.value.trim(),
        s: f.s.input.value.trim(), h: f.h.input.value.trim() })}`, { auth: false });
      result.replaceChildren(verdict(out));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) result.replaceChildren(verdictBox("notfound", t("check.notfound")));
      else if (err instanceof ApiError && err.status === 429) result.replaceChildren(notice("error", t("check.throttled")));
      else result.replaceChildren(notice("error", err.offline ? t("error.offline") : err.message));
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); run(); });
  const given = ["t", "c", "s", "h"].every((k) => params.get(k));
  if (given) setTimeout(run, 0);
  return h("section", {}, h("h1", { text: t("check.title") }), h("p", { text: t("check.intro") }), result,
    given ? h("details", {}, h("summary", { text: t("check.details") }), form) : form);
}

function verdictBox(status, message, extra = null) {
  return h("div", { class: `verdict ${status}`, id: "verdict", dataset: { status } },
    h("p", { class: "verdict-title", text: t(`check.status_${status}`) }), h("p", { text: message }), extra);
}

// The API states amounts as decimal text ("17.00"): shown as money in the reader's way ("17,00 €")
function totalText(total) {
  if (typeof total === "number") return fmt.money(total);
  if (typeof total === "string" && /^-?\d+\.\d{2}$/.test(total)) return fmt.money(fmt.toCents(total));
  return String(total ?? "");
}

function verdict(out) {
  const message = (out.message && (out.message[language()] || out.message.en)) || "";
  const r = out.receipt || {};
  const facts = h("dl", { class: "facts" },
    h("dt", { text: t("receipt.number") }), h("dd", { text: r.number || "" }),
    h("dt", { text: t("check.date") }), h("dd", { text: r.occurred_at ? fmt.dateTime(r.occurred_at) : (r.business_date || "") }),
    h("dt", { text: t("till.total") }), h("dd", { text: totalText(r.total) }),
    h("dt", { text: t("receipt.code") }), h("dd", { text: r.code || "" }));
  return verdictBox(out.status, message, facts);
}
