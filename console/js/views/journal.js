// Journal entries (accountant, admin): a double-entry entry with sub-ledger accounts, its balance
// checked as you type (debits = credits; a decimal comma is fine), then sealed on the journal chain.
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { errorText, forbidden, messages, newKey, table } from "../ui.js";
import { tabs } from "./books.js";

const JOURNAL_CODE = /^[A-Z0-9]{1,8}$/;
const ACCOUNT = /^[0-9]{3,12}$/;
const AUX_ACCOUNT = /^[A-Za-z0-9._-]{1,17}$/;

export function entrySummary(e) {
  const d = e.data || {};
  if (e.type === "journal") return `${d.journal_code} ${d.piece_ref} · ${d.label}`;
  if (e.type === "reversal") return t("entries.reversal_of", { seq: d.original?.seq, reason: d.reason || "" });
  if (e.type === "sale") {
    return `${d.kind === "return" ? `${t("entries.return")} ` : ""}${d.register_id} / ${e.seq} · ${d.seller?.name || ""}`;
  }
  if (e.type === "closure") return `${t(`closing.kind_${d.kind}`)} ${d.period}`;
  return "";
}

export function entryAmount(e) {
  const d = e.data || {};
  if (e.type === "journal") return fmt.money(d.total_debit);
  if (e.type === "sale") return fmt.money(d.totals?.incl ?? 0);
  if (e.type === "reversal") {
    const n = d.negated || {};
    return n.totals ? fmt.money(n.totals.incl) : n.total_debit !== undefined ? fmt.money(n.total_debit) : "";
  }
  if (e.type === "closure") return fmt.money(d.period_grand_total);
  return "";
}

function lineRow(n, onChange, onRemove) {
  const cell = (name, attrs = {}) => h("td", {}, h("input", { name, "aria-label": t(`journal.${name}_n`, { n }),
    autocomplete: "off", ...attrs }));
  const row = h("tr", { class: "jline" },
    cell("account", { inputmode: "numeric", maxlength: 12, size: 8 }),
    cell("account_label", { maxlength: 200 }),
    cell("aux_account", { maxlength: 17, size: 8 }),
    cell("aux_label", { maxlength: 200 }),
    cell("label", { maxlength: 200 }),
    cell("debit", { inputmode: "decimal", class: "num", size: 9 }),
    cell("credit", { inputmode: "decimal", class: "num", size: 9 }),
    h("td", {}, h("button", { type: "button", class: "link remove-line", text: t("till.remove"),
      "aria-label": t("journal.remove_n", { n }), onclick: () => onRemove(row) })));
  row.addEventListener("input", onChange);
  row.value = (name) => row.querySelector(`input[name=${name}]`).value.trim();
  row.input = (name) => row.querySelector(`input[name=${name}]`);
  return row;
}

export async function render(ctx) {
  if (!can(ctx.state, "journal.record")) return forbidden("journal.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const chain = `${tenant.chain_mode}.journal`;
  // The tenant's business day, not the UTC date: before the cut-off, a UTC date is the next day (422).
  const today = fmt.businessDate(new Date(), tenant.time_zone, tenant.business_day_cutoff);
  const code = field(t("journal.code"), { id: "j-code", maxlength: 8, autocomplete: "off", value: "OD" }, t("journal.code_hint"));
  const codeLabel = field(t("journal.code_label"), { id: "j-code-label", maxlength: 200, autocomplete: "off" });
  const piece = field(t("journal.piece_ref"), { id: "j-piece", maxlength: 64, autocomplete: "off" });
  const date = field(t("journal.piece_date"), { id: "j-date", type: "date", value: today, max: today });
  const label = field(t("journal.label"), { id: "j-label", maxlength: 200, autocomplete: "off" });
  const body = h("tbody", {});
  const balance = h("p", { id: "balance", class: "balance", role: "status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary", id: "j-submit", text: t("journal.submit") });
  const out = messages();
  let key = newKey("journal");
  const recent = h("div", { id: "journal-recent" });

  // Each line: its own check; the entry: debits = credits, shown as you type.
  function check() {
    let debit = 0; let credit = 0; let bad = 0; let filled = 0;
    body.querySelectorAll("tr").forEach((row) => {
      const d = row.value("debit"); const c = row.value("credit");
      const dp = d ? fmt.parseAmount(d) : null; const cp = c ? fmt.parseAmount(c) : null;
      const badAmount = (d && dp === null) || (c && cp === null) || (d && c) || (dp !== null && fmt.toCents(dp) === 0)
        || (cp !== null && fmt.toCents(cp) === 0);
      row.input("debit").setAttribute("aria-invalid", d && (dp === null || Boolean(c)) ? "true" : "false");
      row.input("credit").setAttribute("aria-invalid", c && (cp === null || Boolean(d)) ? "true" : "false");
      const acc = row.value("account");
      row.input("account").setAttribute("aria-invalid", acc && !ACCOUNT.test(acc) ? "true" : "false");
      const aux = row.value("aux_account");
      row.input("aux_account").setAttribute("aria-invalid", aux && !AUX_ACCOUNT.test(aux) ? "true" : "false");
      const auxMismatch = Boolean(aux) !== Boolean(row.value("aux_label"));
      if (acc || d || c) filled += 1;
      if (badAmount || !ACCOUNT.test(acc) || (!d && !c) || (aux && !AUX_ACCOUNT.test(aux)) || auxMismatch) {
        if (acc || d || c || aux) bad += 1;
      }
      if (dp && !c) debit += fmt.toCents(dp);
      if (cp && !d) credit += fmt.toCents(cp);
    });
    const diff = debit - credit;
    balance.dataset.balanced = String(diff === 0 && debit > 0);
    balance.className = `balance ${diff === 0 && debit > 0 ? "ok" : "off"}`;
    balance.replaceChildren(
      h("span", { id: "total-debit", text: `${t("journal.debits")} ${fmt.money(debit)}` }), " · ",
      h("span", { id: "total-credit", text: `${t("journal.credits")} ${fmt.money(credit)}` }), " · ",
      h("strong", { id: "balance-state", text: debit === 0 && credit === 0 ? t("journal.empty")
        : diff === 0 ? t("journal.balanced") : t("journal.off_by", { amount: fmt.money(Math.abs(diff)),
          side: diff > 0 ? t("journal.credits") : t("journal.debits") }) }));
    const codeOk = JOURNAL_CODE.test(code.input.value.trim());
    code.setError(code.input.value && !codeOk ? t("journal.code_bad") : "");
    const ready = codeOk && piece.input.value.trim() && date.input.value && label.input.value.trim()
      && filled >= 2 && bad === 0 && diff === 0 && debit > 0;
    submit.disabled = !ready;
    submit.title = ready ? "" : t("journal.not_ready");
    return { debit, credit };
  }
  function renumber() {
    [...body.children].forEach((row, i) => row.querySelectorAll("input, button").forEach((el) => {
      const name = el.name || "remove";
      el.setAttribute("aria-label", t(name === "remove" ? "journal.remove_n" : `journal.${name}_n`, { n: i + 1 }));
    }));
  }
  function addLine() {
    body.append(lineRow(body.children.length + 1, check, (row) => {
      if (body.children.length > 2) { row.remove(); renumber(); check(); }
    }));
  }
  addLine(); addLine();
  [code, codeLabel, piece, date, label].forEach((f) => f.input.addEventListener("input", check));
  code.input.addEventListener("blur", () => { code.input.value = code.input.value.trim().toUpperCase(); check(); });

  const form = h("form", { class: "card", id: "journal-form", novalidate: true },
    h("div", { class: "row" }, code, codeLabel, piece, date), label,
    h("div", { class: "scroll" }, table(t("journal.lines"), [t("journal.account"), t("journal.account_label"),
      t("journal.aux_account"), t("journal.aux_label"), t("journal.line_label"), { text: t("journal.debit"), num: true },
      { text: t("journal.credit"), num: true }, ""], body, { class: "jlines" })),
    h("p", { class: "hint", text: t("journal.aux_hint") }),
    h("div", { class: "buttons" }, h("button", { type: "button", class: "secondary", id: "add-jline", text: t("journal.add_line"),
      onclick: () => { addLine(); body.lastChild.querySelector("input").focus(); check(); } })),
    balance, h("div", { class: "buttons" }, submit), out);
  check();

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { debit, credit } = check();
    if (submit.disabled || debit !== credit) return;
    out.replaceChildren();
    submit.disabled = true;
    const lines = [...body.children].filter((row) => row.value("account") || row.value("debit") || row.value("credit"))
      .map((row) => {
        const line = { account: row.value("account") };
        for (const k of ["account_label", "aux_account", "aux_label", "label"]) if (row.value(k)) line[k] = row.value(k);
        if (row.value("debit")) line.debit = fmt.parseAmount(row.value("debit"));
        if (row.value("credit")) line.credit = fmt.parseAmount(row.value("credit"));
        return line;
      });
    const entry = { journal_code: code.input.value.trim().toUpperCase(), piece_ref: piece.input.value.trim(),
      piece_date: date.input.value, label: label.input.value.trim(), lines };
    if (codeLabel.input.value.trim()) entry.journal_label = codeLabel.input.value.trim();
    try {
      const done = await api("POST", `/v1/tenants/${tenantId}/journal-entries`,
        { body: { entries: [entry] }, headers: { "Idempotency-Key": key } });
      const [sealed] = done.entries;
      out.append(notice("ok", t("journal.recorded", { chain: sealed.chain, seq: sealed.seq })));
      key = newKey("journal");
      body.replaceChildren(); addLine(); addLine();
      piece.input.value = ""; label.input.value = "";
      check();
      await showRecent();
    } catch (err) {
      const fields = (err.fieldErrors || []).map((e) => `${e.field}: ${e.detail}`);
      out.append(notice("error", fields.length ? fields.join(" · ") : errorText(err)));
      check();
    }
  });

  async function showRecent() {
    let entries = [];
    try {
      const page = await api("GET", `/v1/tenants/${tenantId}/entries${query({ chain, limit: 500 })}`);
      entries = page.entries;
    } catch (err) {
      if (err.status !== 404) throw err; // no journal chain yet: its first entry creates it
    }
    const last = entries.slice(-20).reverse();
    recent.replaceChildren(h("section", { class: "card" }, h("h2", { text: t("journal.recent") }),
      last.length ? h("div", { class: "scroll" }, table(t("journal.recent"), [t("entries.seq"), t("entries.type"),
        t("entries.recorded_at"), t("entries.what"), { text: t("till.amount"), num: true }],
      last.map((e) => h("tr", { dataset: { seq: e.seq } }, h("td", { text: `#${e.seq}` }), h("td", { text: t(`type.${e.type}`) }),
        h("td", { text: fmt.dateTime(e.recorded_at, tenant.time_zone) }), h("td", { text: entrySummary(e) }),
        h("td", { class: "num", text: entryAmount(e) })))), h("p", {},
        h("a", { href: `#/entries?chain=${encodeURIComponent(chain)}`, text: t("journal.to_entries") })))
        : h("p", { text: t("journal.none") })));
  }
  await showRecent();
  return h("section", {}, tabs(ctx.state, "journal"), h("h1", { text: t("journal.title") }),
    h("p", { text: t("journal.intro") }), form, recent);
}
