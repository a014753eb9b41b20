// Entries of a chain, page by page, and reversals with a reason: the only way to correct a sealed
// entry (accountant, admin: sales and journal entries; manager: sales).
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { errorText, forbidden, messages, table } from "../ui.js";
import { tabs } from "./books.js";
import { entryAmount, entrySummary } from "./journal.js";

const PAGE = 50;

export async function render(ctx, { params }) {
  if (!(can(ctx.state, "entry.reverse") || can(ctx.state, "ledger.read"))) return forbidden("entries.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const listed = await api("GET", `/v1/tenants/${tenantId}/chains`);
  // Without ledger.read (a manager) only the sales chains can be read.
  const names = listed.chains.filter((c) => c !== "events" && (can(ctx.state, "ledger.read") || c.includes(".sales.")))
    .sort((a, b) => (a.startsWith(tenant.chain_mode) ? 0 : 1) - (b.startsWith(tenant.chain_mode) ? 0 : 1) || a.localeCompare(b));
  const title = h("h1", { text: t("entries.title") });
  const head = [tabs(ctx.state, "entries"), title];
  if (!names.length) return h("section", {}, head, notice("info", t("entries.no_chain")));
  const wanted = params.get("chain");
  const chain = field(t("entries.chain"), { tag: "select", id: "entries-chain",
    options: names.map((n) => h("option", { value: n, text: n, selected: n === wanted })) });
  const list = h("div", { id: "entries-list", "aria-live": "polite" });
  const out = messages();
  let cursor = null;
  let rows = [];
  let reversed = new Map(); // original seq -> reversal seq

  const mayReverse = (e) => can(ctx.state, "entry.reverse") && (e.type === "sale" || (e.type === "journal"
    && can(ctx.state, "journal.record"))) && !reversed.has(e.seq);

  function reverseForm(e, row) {
    const reason = field(t("entries.reason"), { tag: "textarea", id: `reason-${e.seq}`, maxlength: 500, rows: 2,
      required: true }, t("entries.reason_hint"));
    const ok = h("button", { type: "submit", class: "danger", text: t("entries.reverse_confirm") });
    const cancel = h("button", { type: "button", class: "secondary", text: t("entries.cancel") });
    const msg = messages();
    const form = h("form", { class: "reverse-form", novalidate: true }, reason, h("div", { class: "buttons" }, ok, cancel), msg);
    const holder = h("tr", { class: "reverse-row" }, h("td", { colspan: 6 }, form));
    cancel.addEventListener("click", () => { holder.remove(); row.querySelector(".reverse")?.focus(); });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = reason.input.value.trim();
      if (!text) { reason.setError(t("entries.reason_needed")); reason.input.focus(); return; }
      ok.disabled = true;
      try {
        const done = await api("POST", `/v1/tenants/${tenantId}/entries/${encodeURIComponent(e.chain)}/${e.seq}/reversal`,
          { body: { reason: text } });
        out.replaceChildren(notice("ok", t("entries.reversed", { seq: e.seq, reversal: done.seq })));
        await load(true);
      } catch (err) {
        reason.setError(errorText(err));
        ok.disabled = false;
      }
    });
    row.after(holder);
    reason.input.focus();
  }

  function draw() {
    const body = rows.map((e) => {
      const row = h("tr", { dataset: { seq: e.seq, type: e.type } },
        h("td", { text: `#${e.seq}` }),
        h("td", {}, t(`type.${e.type}`), e.training ? h("span", { class: "badge warn", text: t("entries.training") }) : null),
        h("td", { text: fmt.dateTime(e.recorded_at, tenant.time_zone) }),
        h("td", { text: entrySummary(e) }),
        h("td", { class: "num", text: entryAmount(e) }),
        h("td", {}, reversed.has(e.seq) ? h("span", { class: "badge", text: t("entries.reversed_by", { seq: reversed.get(e.seq) }) })
          : mayReverse(e) ? h("button", { type: "button", class: "secondary reverse", text: t("entries.reverse"),
            "aria-label": t("entries.reverse_n", { seq: e.seq }), onclick: (ev) => reverseForm(e, ev.target.closest("tr")) }) : null));
      return row;
    });
    list.replaceChildren(rows.length ? h("div", { class: "card scroll" }, table(t("entries.title"), [t("entries.seq"),
      t("entries.type"), t("entries.recorded_at"), t("entries.what"), { text: t("till.amount"), num: true }, ""], body,
    { id: "entries-table" })) : notice("info", t("entries.none")),
    cursor ? h("button", { type: "button", class: "secondary", id: "entries-more", text: t("entries.more"),
      onclick: () => load(false) }) : null);
  }

  let loading = 0; // the latest load: an answer to an earlier one (another chain) is dropped
  async function load(fresh) {
    const mine = ++loading;
    if (fresh) { rows = []; cursor = null; reversed = new Map(); }
    try {
      const page = await api("GET", `/v1/tenants/${tenantId}/entries${query({ chain: chain.input.value, limit: PAGE, cursor })}`);
      if (mine !== loading) return;
      rows = rows.concat(page.entries);
      cursor = page.next_cursor;
      rows.filter((e) => e.type === "reversal").forEach((e) => reversed.set(e.data.original.seq, e.seq));
    } catch (err) {
      if (mine !== loading) return;
      out.replaceChildren(notice("error", errorText(err)));
    }
    draw();
  }
  chain.input.addEventListener("change", () => { out.replaceChildren(); load(true); });
  await load(true);
  return h("section", {}, head, h("p", { text: t("entries.intro") }),
    h("div", { class: "card narrow no-print" }, chain), out, list);
}
