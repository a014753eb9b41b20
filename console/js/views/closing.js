// Closing (manager, accountant, admin): close a business day of a register (accountants and admins:
// a month or a year too) and print its report; the register's past closures (closure.read).
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { locale, t } from "../i18n.js";
import { can } from "../roles.js";

function previousDay(isoDate) {
  const d = new Date(`${isoDate}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

export async function render(ctx) {
  const title = h("h1", { text: t("closing.title") });
  if (!can(ctx.state, "closure.day")) return h("section", {}, title, notice("error", t("error.forbidden")));
  const tenant = ctx.state.tenant;
  const tenantId = ctx.state.membership.tenant_id;
  const listed = await api("GET", `/v1/tenants/${tenantId}/chains`);
  const names = (listed.chains || []).map((c) => (typeof c === "string" ? c : c.chain || c.name))
    .filter((n) => n && n.startsWith(`${tenant.chain_mode}.sales.`));
  if (!names.length) return h("section", {}, title, notice("info", t("closing.no_register")));

  const chain = field(t("closing.register"), { tag: "select", id: "close-chain",
    options: names.map((n) => h("option", { value: n, text: n.split(".").slice(2).join(".") })) });
  const today = fmt.businessDate(new Date(), tenant.time_zone, tenant.business_day_cutoff);
  const kinds = can(ctx.state, "closure.period") ? ["day", "month", "year"] : ["day"];
  const kind = field(t("closing.kind"), { tag: "select", id: "close-kind",
    options: kinds.map((k) => h("option", { value: k, text: t(`closing.kind_${k}`) })) });
  const lastMonth = (() => { const [y, m] = today.split("-").map(Number); return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`; })();
  const periods = {
    day: field(t("closing.day"), { type: "date", id: "close-day", value: previousDay(today), max: today }, t("closing.day_hint")),
    month: field(t("closing.month"), { type: "month", id: "close-month", value: lastMonth, max: today.slice(0, 7) },
      t("closing.month_hint")),
    year: field(t("closing.year"), { type: "number", id: "close-year", value: String(Number(today.slice(0, 4)) - 1),
      min: 2000, max: today.slice(0, 4), inputmode: "numeric" }, t("closing.year_hint")),
  };
  const submit = h("button", { type: "submit", class: "primary", id: "close-submit", text: t("closing.submit_day") });
  function showKind() {
    Object.entries(periods).forEach(([k, f]) => { f.hidden = k !== kind.input.value; });
    submit.textContent = t(`closing.submit_${kind.input.value}`);
  }
  kind.input.addEventListener("change", showKind);
  showKind();
  const out = h("div", { class: "messages", "aria-live": "polite" });
  const report = h("div", { id: "zreport-slot" });
  const history = h("div", { id: "closure-history" });
  const form = h("form", { class: "card narrow no-print", novalidate: true }, chain,
    kinds.length > 1 ? kind : null, periods.day, periods.month, periods.year, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const k = kind.input.value;
    const period = periods[k].input.value.trim();
    const shape = { day: /^\d{4}-\d{2}-\d{2}$/, month: /^\d{4}-\d{2}$/, year: /^\d{4}$/ }[k];
    if (!shape.test(period)) { periods[k].setError(t(`closing.${k}_bad`)); periods[k].input.focus(); return; }
    periods[k].setError("");
    submit.disabled = true;
    try {
      const closure = await api("POST", `/v1/tenants/${tenantId}/closures`, {
        body: { chain: chain.input.value, kind: k, period } });
      out.append(notice("ok", t("closing.done", { period: periodText(closure.data.kind, closure.data.period) })));
      await showReport(closure);
      await showHistory();
    } catch (err) {
      out.append(notice("error", err.offline ? t("error.offline") : err.message));
    } finally {
      submit.disabled = false;
    }
  });

  async function showReport(closure) {
    let checkpoint = null;
    if (can(ctx.state, "closure.read")) {  // a manager too: the fingerprint of its registers' sales chains
      const cps = await api("GET", `/v1/tenants/${tenantId}/checkpoints${query({ chain: closure.chain })}`);
      checkpoint = (cps.checkpoints || []).filter((c) => c.size >= closure.seq).sort((a, b) => a.size - b.size)[0] || null;
    }
    report.replaceChildren(zReport(ctx, closure, checkpoint, async () => {
      await api("POST", `/v1/tenants/${tenantId}/checkpoints`, { body: { chain: closure.chain } });
      await showReport(closure);
    }));
  }
  async function showHistory() {
    if (!can(ctx.state, "closure.read")) return;
    const listedClosures = await api("GET", `/v1/tenants/${tenantId}/closures${query({ chain: chain.input.value })}`);
    const items = (listedClosures.closures || []).slice().reverse();
    history.replaceChildren(h("section", { class: "card no-print" }, h("h2", { text: t("closing.history") }),
      items.length ? h("ul", { id: "closure-list" }, items.map((c) => h("li", { dataset: { kind: c.data.kind, period: c.data.period } },
        `${t(`closing.kind_${c.data.kind}`)} · ${periodText(c.data.kind, c.data.period)} · `
        + `${fmt.money(c.data.period_grand_total)} `, h("button", { type: "button", class: "link", text: t("closing.show_report"),
        "aria-label": `${t("closing.show_report")}: ${periodText(c.data.kind, c.data.period)}`,
        onclick: () => showReport(c) })))) : h("p", { text: t("closing.none") })));
  }
  chain.input.addEventListener("change", showHistory);
  await showHistory();
  return h("section", {}, title, form, report, history);
}

// "5 December 2026", "December 2026", "2026", in the user's language.
export function periodText(kind, period) {
  if (kind === "day") return fmt.date(period);
  if (kind === "month") {
    const [y, m] = period.split("-").map(Number);
    return new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" }).format(Date.UTC(y, m - 1, 1));
  }
  return period;
}

function zReport(ctx, closure, checkpoint, signNow) {
  const tenant = ctx.state.tenant;
  const d = closure.data;
  const rows = (label, value, id) => [h("dt", { text: label }), h("dd", { id, text: value })];
  const counts = d.counts || {};
  return h("article", { class: "receipt zreport", id: "zreport", "aria-labelledby": "zreport-title" },
    closure.training ? h("p", { class: "training", text: t("receipt.training") }) : null,
    h("header", {}, h("strong", { text: tenant.company_name }), h("span", { text: `${t("signup.vat_number")}: ${tenant.vat_number}` })),
    h("h2", { id: "zreport-title", text: `${t(`zreport.title_${d.kind}`)} · ${closure.chain.split(".").slice(2).join(".")} · ${periodText(d.kind, d.period)}` }),
    h("dl", { class: "facts" },
      rows(t("zreport.closure"), `${closure.chain} #${closure.seq}`),
      rows(t("zreport.range"), `${d.first_seq} – ${d.last_seq}`),
      rows(t("zreport.counts"), t("zreport.counts_value", { sales: counts.sale || 0, returns: counts.return || 0,
        reversals: counts.reversal || 0 })),
      rows(t(`zreport.period_total_${d.kind}`), fmt.money(d.period_grand_total), "z-period-total"),
      rows(t("zreport.perpetual_total"), fmt.money(d.perpetual_grand_total), "z-perpetual-total"),
      rows(t("zreport.closed_by"), `${d.closed_by.name} · ${fmt.dateTime(closure.recorded_at, tenant.time_zone)}`)),
    h("table", { class: "vat" }, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("till.vat") }),
      h("th", { scope: "col", class: "num", text: t("receipt.excl") }), h("th", { scope: "col", class: "num", text: t("till.vat") }),
      h("th", { scope: "col", class: "num", text: t("receipt.incl") }))),
    h("tbody", {}, (d.vat_totals || []).map((v) => h("tr", {}, h("td", { text: fmt.percent(v.rate) }),
      h("td", { class: "num", text: fmt.money(v.excl) }), h("td", { class: "num", text: fmt.money(v.vat) }),
      h("td", { class: "num", text: fmt.money(v.incl) }))))),
    h("dl", { class: "facts fingerprint" },
      rows(t("zreport.hash"), closure.hash),
      rows(t("zreport.merkle"), `${d.merkle_root} (${d.merkle_tree_size})`),
      rows(t("zreport.checkpoint"), checkpoint ? `${checkpoint.root} (${t("zreport.size")} ${checkpoint.size}, ${checkpoint.key_id})`
        : t("zreport.checkpoint_pending"), "z-checkpoint")),
    h("div", { class: "buttons no-print" },
      h("button", { type: "button", class: "primary", id: "print-z", text: t("receipt.print"), onclick: () => window.print() }),
      !checkpoint && can(ctx.state, "checkpoint.sign")
        ? h("button", { type: "button", class: "secondary", id: "sign-now", text: t("zreport.sign_now"), onclick: signNow }) : null));
}
