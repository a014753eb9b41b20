// The till: a sale or a return (lines with the VAT rates legal on the sale's business day,
// payments and change, refunds), its printable receipt with the verification QR code, the
// sales waiting to be sent (offline), and the register's sales (newest first) to print again.
import { api, query } from "../api.js";
import { clear, field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { qrSvg } from "../qr.js";
import * as queue from "../queue.js";
import { can } from "../roles.js";

const METHODS = ["cash", "card", "cheque", "voucher", "transfer", "other"];
const REGISTER_KEY = "scelle.register";
const RATES_KEY = "scelle.vat_rates";  // the last rates fetched, per country: the till works offline
const SALES_PAGE = 10;  // the register's sales, a page at a time
const REGISTER_ID = /^[A-Za-z0-9_-]{1,32}$/;

export async function render(ctx, { args }) {
  if (!can(ctx.state, "sale.record")) return h("section", {}, h("h1", { text: t("nav.till") }), notice("error", t("error.forbidden")));
  if (ctx.route === "receipt" && args.length === 2) return entryReceipt(ctx, args[0], args[1]);
  if (ctx.route === "receipt") return receiptView(ctx, args[0]);
  const tenant = ctx.state.tenant;
  const day = fmt.businessDate(new Date(), tenant.time_zone, tenant.business_day_cutoff);
  return tillView(ctx, await vatRates(tenant.country, day));
}

// The rates legal on the sale's business day (GET /v1/vat-rates, the table the API checks sales
// with); offline, the last ones fetched on this device.
export async function vatRates(country, day) {
  const key = `${RATES_KEY}.${country}`;
  try {
    const out = await api("GET", `/v1/vat-rates${query({ country, date: day })}`, { auth: false });
    const found = { date: out.date, rates: out.rates.map((r) => ({ rate: r.rate, rate_bp: r.rate_bp, label: r.label })) };
    localStorage.setItem(key, JSON.stringify(found));
    return found;
  } catch (err) {
    let kept = null;
    try { kept = JSON.parse(localStorage.getItem(key) || "null"); } catch { kept = null; }
    if (kept && kept.rates && kept.rates.length) return { ...kept, kept: true };
    return { date: day, rates: [], error: err.offline ? t("error.offline") : err.message };
  }
}

function tillView(ctx, vat) {
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const rates = vat.rates;
  const rateLabel = (rate) => fmt.percent(Math.round(Number(rate) * 100));
  const lines = [];     // {description, quantity (API string, negative: returned), unit_price, vat_rate, discount, amount (cents)}
  const payments = [];  // {method, amount (API string), cents (negative: refunded)}

  // ---- register
  const register = field(t("till.register"), { id: "register", value: localStorage.getItem(REGISTER_KEY) || "R1",
    pattern: "[A-Za-z0-9_-]{1,32}", maxlength: 32, autocomplete: "off" });
  register.input.addEventListener("change", () => {
    const v = register.input.value.trim();
    if (/^[A-Za-z0-9_-]{1,32}$/.test(v)) { localStorage.setItem(REGISTER_KEY, v); register.setError(""); }
    else register.setError(t("till.register_bad"));
  });

  // ---- a new line
  const desc = field(t("till.description"), { id: "line-description", maxlength: 200, autocomplete: "off" });
  const qty = field(t("till.quantity"), { id: "line-quantity", value: "1", inputmode: "decimal", autocomplete: "off" });
  const price = field(t("till.unit_price"), { id: "line-price", inputmode: "decimal", autocomplete: "off" },
    t("till.price_hint"));
  const discount = field(t("till.discount"), { id: "line-discount", inputmode: "decimal", autocomplete: "off" });
  const rateGroup = h("fieldset", { class: "rates" }, h("legend", { text: t("till.vat_rate") }),
    rates.map((r, i) => h("label", { class: "rate" },
      h("input", { type: "radio", name: "vat_rate", value: r.rate, checked: i === 0, id: `rate-${r.rate.replace(".", "_")}` }),
      h("span", { text: rateLabel(r.rate) }))),
    h("p", { class: "hint", id: "rates-date", text: vat.kept ? t("till.rates_kept", { date: fmt.date(vat.date) })
      : t("till.rates_of", { date: fmt.date(vat.date) }) }));
  const returned = h("input", { type: "checkbox", id: "line-return" });
  const returnBox = h("div", { class: "check" }, returned, h("label", { for: "line-return", text: t("till.returned_item") }));
  const addLine = h("button", { type: "submit", class: "primary", id: "add-line", text: t("till.add_line") });
  returned.addEventListener("change", () => {
    addLine.textContent = returned.checked ? t("till.add_return") : t("till.add_line");
  });
  const lineForm = h("form", { class: "card line-form", novalidate: true, "aria-labelledby": "line-form-title" },
    h("h2", { id: "line-form-title", text: t("till.new_line") }),
    desc, h("div", { class: "row" }, qty, price, discount), rateGroup, returnBox, addLine,
    rates.length ? null : notice("error", t("till.no_rates", { detail: vat.error || "" })));
  lineForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    let ok = true;
    const d = desc.input.value.trim();
    if (!d) { desc.setError(t("till.description_needed")); ok = false; } else desc.setError("");
    const q = fmt.parseQuantity(qty.input.value);
    if (!q || fmt.toThousandths(q) <= 0) { qty.setError(t("till.quantity_bad")); ok = false; } else qty.setError("");
    const p = fmt.parseAmount(price.input.value);
    if (p === null) { price.setError(t("till.amount_bad")); ok = false; } else price.setError("");
    const disc = discount.input.value.trim() ? fmt.parseAmount(discount.input.value) : "0";
    if (disc === null) { discount.setError(t("till.amount_bad")); ok = false; }
    else if (returned.checked && disc !== "0") { discount.setError(t("till.no_discount_on_return")); ok = false; }
    else discount.setError("");
    const checked = lineForm.querySelector("input[name=vat_rate]:checked");
    if (!ok || !checked) { const bad = lineForm.querySelector("[aria-invalid=true]"); if (bad) bad.focus(); return; }
    const gross = fmt.roundDiv(fmt.toThousandths(q) * fmt.toCents(p), 1000);
    if (fmt.toCents(disc) > gross) { discount.setError(t("till.discount_bad")); discount.input.focus(); return; }
    const sign = returned.checked ? -1 : 1;
    lines.push({ description: d, quantity: returned.checked ? `-${q}` : q, unit_price: p, vat_rate: checked.value,
      discount: disc, amount: sign * (gross - fmt.toCents(disc)) });
    desc.input.value = ""; qty.input.value = "1"; price.input.value = ""; discount.input.value = "";
    returned.checked = false; addLine.textContent = t("till.add_line");
    refresh();
    desc.input.focus();
  });

  // ---- the ticket so far
  const linesBody = h("tbody");
  const totalOut = h("output", { id: "total", class: "total", "aria-live": "polite" });
  const ticket = h("section", { class: "card ticket", "aria-labelledby": "ticket-title" },
    h("h2", { id: "ticket-title", text: t("till.ticket") }),
    h("div", { class: "scroll" }, h("table", { class: "lines" }, h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: t("till.description") }), h("th", { scope: "col", class: "num", text: t("till.quantity") }),
      h("th", { scope: "col", class: "num unit", text: t("till.unit_price") }), h("th", { scope: "col", class: "num", text: t("till.vat") }),
      h("th", { scope: "col", class: "num", text: t("till.amount") }), h("th", { scope: "col" }, h("span", { class: "sr-only", text: t("till.remove") })))),
    linesBody)),
    h("p", { class: "total-line" }, h("span", { text: t("till.total") }), " ", totalOut));

  // ---- payments
  const method = field(t("till.method"), { tag: "select", id: "pay-method",
    options: METHODS.map((m) => h("option", { value: m, text: t(`method.${m}`) })) });
  const payAmount = field(t("till.pay_amount"), { id: "pay-amount", inputmode: "decimal", autocomplete: "off" });
  const addPay = h("button", { type: "submit", class: "secondary", id: "add-payment", text: t("till.add_payment") });
  const exactCash = h("button", { type: "button", class: "secondary", id: "pay-exact-cash", text: t("till.exact_cash") });
  const exactCard = h("button", { type: "button", class: "secondary", id: "pay-exact-card", text: t("till.exact_card") });
  const payList = h("ul", { class: "payments", id: "payments" });
  const dueOut = h("output", { id: "due", "aria-live": "polite" });
  const payForm = h("form", { class: "card pay-form", novalidate: true, "aria-labelledby": "pay-title" },
    h("h2", { id: "pay-title", text: t("till.payments") }),
    h("div", { class: "row" }, method, payAmount), h("div", { class: "buttons" }, addPay, exactCash, exactCard),
    payList, h("p", { class: "due" }, dueOut));
  const total = () => lines.reduce((a, l) => a + l.amount, 0);
  const paid = () => payments.reduce((a, p) => a + p.cents, 0);
  // ``cents`` signed: a refund (negative total) is paid back with negative amounts that add up to it
  // exactly; a sale's payments cover it, and only cash may exceed it (the change).
  function pay(m, cents) {
    if (!cents) return;
    const remaining = total() - paid();
    if (total() < 0 && (cents > 0 || cents < remaining)) { payAmount.setError(t("till.refund_over")); payAmount.input.focus(); return; }
    if (total() >= 0 && cents < 0) return;
    if (total() >= 0 && m !== "cash" && cents > remaining) { payAmount.setError(t("till.only_cash_over")); payAmount.input.focus(); return; }
    payments.push({ method: m, amount: fmt.centsToDecimal(cents), cents });
    payAmount.setError("");
    payAmount.input.value = "";
    refresh();
  }
  payForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const a = fmt.parseAmount(payAmount.input.value);
    if (a === null || fmt.toCents(a) <= 0) { payAmount.setError(t("till.amount_bad")); payAmount.input.focus(); return; }
    pay(method.input.value, total() < 0 ? -fmt.toCents(a) : fmt.toCents(a));
  });
  exactCash.addEventListener("click", () => pay("cash", total() - paid()));
  exactCard.addEventListener("click", () => pay("card", total() - paid()));

  // ---- record
  const record = h("button", { type: "button", class: "primary big", id: "record-sale", text: t("till.record"), disabled: true });
  const clearBtn = h("button", { type: "button", class: "secondary", id: "clear-sale", text: t("till.clear") });
  const result = h("div", { class: "messages", id: "sale-result", "aria-live": "polite" });
  clearBtn.addEventListener("click", () => { lines.length = 0; payments.length = 0; refresh(); desc.input.focus(); });
  record.addEventListener("click", async () => {
    if (record.disabled) return;
    const reg = register.input.value.trim();
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(reg)) { register.setError(t("till.register_bad")); register.input.focus(); return; }
    const now = new Date();
    const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
    const rand = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
    const sale = {
      ...(lines.some((l) => l.amount < 0 || l.quantity.startsWith("-")) ? { kind: "return" } : {}),
      client_receipt_id: `${reg}-${stamp}-${rand}`, register_id: reg,
      occurred_at: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
      lines: lines.map((l) => {
        const line = { description: l.description, quantity: l.quantity, unit_price: l.unit_price, vat_rate: l.vat_rate };
        if (l.discount !== "0") line.discount = l.discount;
        return line;
      }),
      payments: payments.map((p) => ({ method: p.method, amount: p.amount })),
      expected_total: fmt.centsToDecimal(total()),
    };
    queue.enqueue(tenantId, sale);
    lines.length = 0; payments.length = 0; refresh();
    result.replaceChildren(notice("info", t("till.sending")));
    await queue.flush(tenantId);
    const done = queue.findSent(tenantId, sale.client_receipt_id);
    const still = queue.waiting(tenantId).find((i) => i.sale.client_receipt_id === sale.client_receipt_id);
    if (done) {
      loadSales(true);
      result.replaceChildren(notice("ok", t("till.recorded", { number: `${done.data.register_id} / ${done.seq}` })),
        h("a", { href: `#/receipt/${encodeURIComponent(sale.client_receipt_id)}`, class: "button secondary",
          id: "show-receipt", text: t("till.show_receipt") }));
    } else if (still && still.status === "failed") {
      result.replaceChildren(notice("error", t("till.refused", { detail: still.error })));
    } else {
      result.replaceChildren(notice("info", t("till.queued")));
    }
    desc.input.focus();
  });

  // ---- waiting and recent
  const waitingBox = h("section", { class: "card waiting", id: "waiting", "aria-live": "polite", "aria-labelledby": "waiting-title" });
  const recentBox = h("section", { class: "card recent", id: "recent", "aria-labelledby": "recent-title" });
  function refreshQueue() {
    const w = queue.waiting(tenantId);
    const sendNow = h("button", { type: "button", class: "secondary", id: "send-now", text: t("till.send_now"),
      onclick: () => queue.flush(tenantId) });
    clear(waitingBox, h("h2", { id: "waiting-title", text: t("till.waiting_title") }),
      h("p", { id: "waiting-count", text: w.length ? t("till.waiting", { count: w.length }) : t("till.none_waiting") }),
      w.length ? h("ul", {}, w.map((i) => h("li", { class: i.status },
        `${i.sale.client_receipt_id} · ${fmt.money(fmt.toCents(i.sale.expected_total))}`,
        i.status === "failed" ? [" — ", h("span", { class: "error-text", text: i.error }), " ",
          h("button", { type: "button", class: "link", text: t("till.discard"),
            onclick: () => { if (window.confirm(t("till.discard_confirm"))) queue.discard(tenantId, i.sale.client_receipt_id); } })] : null))) : null,
      w.length ? sendNow : null);
    const s = queue.sent(tenantId).slice(0, 8);
    recentBox.replaceChildren(h("h2", { id: "recent-title", text: t("till.recent") }),
      s.length ? h("ul", {}, s.map((a) => h("li", {}, h("a", { href: `#/receipt/${encodeURIComponent(a.data.client_receipt_id)}`,
        text: `${a.data.register_id} / ${a.seq} · ${fmt.money(a.data.totals.incl)} · ${fmt.dateTime(a.data.occurred_at, tenant.time_zone)}` }))))
        : h("p", { text: t("till.no_recent") }));
  }
  // ---- the register's sales (GET .../entries, newest first: today's business day first), each
  // with its receipt to print again; a seller's list holds only their own sales (docs/roles.md)
  const salesTitle = h("h2", { id: "register-sales-title" });
  const salesList = h("ol", { class: "sales", id: "register-sales-list" });
  const salesOut = h("div", { class: "messages", "aria-live": "polite" });
  const salesMore = h("button", { type: "button", class: "secondary", id: "register-sales-more", text: t("till.sales_more"),
    hidden: true, onclick: () => loadSales(false) });
  const salesBox = h("section", { class: "card register-sales", id: "register-sales", "aria-labelledby": "register-sales-title" },
    salesTitle, can(ctx.state, "sale.read_all") ? null : h("p", { class: "hint", text: t("till.sales_own") }),
    salesOut, salesList, salesMore);
  const today = () => fmt.businessDate(new Date(), tenant.time_zone, tenant.business_day_cutoff);
  let salesNext = null;
  let salesDay = null;
  let salesLoad = 0;
  async function loadSales(reset) {
    const reg = register.input.value.trim();
    if (!REGISTER_ID.test(reg)) return;
    const seq = ++salesLoad;  // the newest load wins (register changed, a sale recorded meanwhile)
    salesTitle.textContent = t("till.sales_title", { register: reg });
    salesMore.disabled = true;
    const chain = `${tenant.mode === "test" ? "test" : "prod"}.sales.${reg}`;
    let page;
    try {
      page = await api("GET", `/v1/tenants/${tenantId}/entries${query({ chain, order: "desc", limit: SALES_PAGE,
        cursor: reset ? undefined : salesNext })}`);
    } catch (err) {
      if (seq !== salesLoad) return;
      salesMore.disabled = false;
      if (err.status === 404 && (err.problem || {}).field === "chain") {  // no sale yet on this register
        page = { entries: [], next_cursor: null };
      } else {
        salesOut.replaceChildren(notice("error", err.offline ? t("error.offline") : err.message));
        return;
      }
    }
    if (seq !== salesLoad) return;
    salesOut.replaceChildren();
    if (reset) { salesList.replaceChildren(); salesDay = null; }
    page.entries.filter((e) => e.type === "sale").forEach((e) => {
      const d = e.data;
      if (d.business_date !== salesDay) {
        salesDay = d.business_date;
        salesList.append(h("li", { class: "day", text: salesDay === today() ? t("till.sales_today") : fmt.date(salesDay) }));
      }
      const number = `${d.register_id} / ${e.seq}`;
      salesList.append(h("li", { class: "sale", dataset: { seq: String(e.seq) } },
        h("time", { datetime: d.occurred_at, text: fmt.time(d.occurred_at, tenant.time_zone) }), " · ",
        h("strong", { class: "sale-total", text: fmt.money(d.totals.incl) }), " · ",
        h("span", { class: "sale-payment", text: d.payments.map((p) => t(`method.${p.method}`)).join(", ") }), " ",
        h("a", { href: `#/receipt/${encodeURIComponent(e.chain)}/${e.seq}`, class: "reprint" }, t("till.reprint"),
          h("span", { class: "sr-only", text: ` ${t("till.reprint_label", { number })}` }))));
    });
    if (!salesList.children.length) salesList.append(h("li", { class: "none", text: t("till.sales_none") }));
    salesNext = page.next_cursor;
    salesMore.hidden = !salesNext;
    salesMore.disabled = false;
  }
  register.input.addEventListener("change", () => loadSales(true));

  const stop = queue.onQueueChange((id) => {
    if (id !== tenantId || !waitingBox.isConnected) return;
    refreshQueue();
    loadSales(true);
  });
  window.addEventListener("hashchange", stop, { once: true });

  function refresh() {
    linesBody.replaceChildren(...lines.map((l, i) => h("tr", {},
      h("td", { text: l.description }), h("td", { class: "num", text: fmt.number(Number(l.quantity)) }),
      h("td", { class: "num unit", text: fmt.money(fmt.toCents(l.unit_price)) }),
      h("td", { class: "num", text: rateLabel(l.vat_rate) }),
      h("td", { class: "num", text: fmt.money(l.amount) + (l.discount !== "0" ? ` (−${fmt.money(fmt.toCents(l.discount))})` : "") }),
      h("td", {}, h("button", { type: "button", class: "link", "aria-label": t("till.remove_line", { name: l.description }),
        text: "✕", onclick: () => { lines.splice(i, 1); refresh(); } })))));
    totalOut.textContent = fmt.money(total());
    payList.replaceChildren(...payments.map((p, i) => h("li", {}, `${t(`method.${p.method}`)}: ${fmt.money(p.cents)} `,
      h("button", { type: "button", class: "link", "aria-label": t("till.remove_payment"), text: "✕",
        onclick: () => { payments.splice(i, 1); refresh(); } }))));
    const due = total() - paid();
    const refund = total() < 0;
    const cash = payments.filter((p) => p.method === "cash").reduce((a, p) => a + p.cents, 0);
    if (refund) dueOut.textContent = due < 0 ? t("till.to_refund", { amount: fmt.money(-due) }) : t("till.refunded");
    else if (due > 0) dueOut.textContent = t("till.due", { amount: fmt.money(due) });
    else if (due < 0) dueOut.textContent = t("till.change", { amount: fmt.money(-due) });
    else dueOut.textContent = lines.length ? t("till.paid") : "";
    payAmount.input.placeholder = (refund ? due < 0 : due > 0) ? fmt.amountInput(Math.abs(due)) : "";
    payAmount.querySelector("label").textContent = refund ? t("till.refund_amount") : t("till.pay_amount");
    addPay.textContent = refund ? t("till.add_refund") : t("till.add_payment");
    exactCash.textContent = refund ? t("till.refund_cash") : t("till.exact_cash");
    exactCard.textContent = refund ? t("till.refund_card") : t("till.exact_card");
    const isReturn = lines.some((l) => l.amount < 0 || l.quantity.startsWith("-"));
    record.textContent = isReturn ? t("till.record_return") : t("till.record");
    ticket.querySelector("h2").textContent = isReturn ? t("till.ticket_return") : t("till.ticket");
    if (total() > 0) record.disabled = !(lines.length && due <= 0 && -due <= cash);
    else if (refund) record.disabled = due !== 0;
    else record.disabled = !(lines.length && payments.length === 0);
  }
  refresh();
  refreshQueue();
  loadSales(true);
  queue.watch(tenantId);
  if (queue.waiting(tenantId).length && navigator.onLine) queue.flush(tenantId);

  return h("section", { class: "till" },
    h("div", { class: "till-head" }, h("h1", { text: t("nav.till") }), register),
    h("div", { class: "till-grid" },
      h("div", {}, lineForm, payForm),
      h("div", {}, ticket, h("div", { class: "card actions" }, record, clearBtn, result), waitingBox, recentBox, salesBox)));
}

// A receipt printed again from the register's sales: the sealed entry and its receipt proof, as
// GET .../entries/{chain}/{seq} gives them (the API's own code and QR payload).
async function entryReceipt(ctx, chain, seq) {
  let entry = null;
  try {
    entry = await api("GET", `/v1/tenants/${ctx.state.membership.tenant_id}/entries/${encodeURIComponent(chain)}/${encodeURIComponent(seq)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  // read from the register (not this device's queue): a 404 is a receipt this role may not see, or none
  if (!entry || entry.type !== "sale" || !entry.receipt_proof) return receiptPage(ctx, null, "receipt.not_found");
  return receiptPage(ctx, entry);
}

function receiptView(ctx, crid) {
  return receiptPage(ctx, queue.findSent(ctx.state.membership.tenant_id, crid));
}

// `answer`: a sale as recording it answered (the device's) or as read back: data, seq, training, receipt_proof.
function receiptPage(ctx, answer, missing = "receipt.unknown") {
  const tenant = ctx.state.tenant;
  if (!answer) return h("section", {}, h("h1", { text: t("receipt.title") }), notice("error", t(missing)));
  const d = answer.data;
  const url = answer.receipt_proof.qr;  // the console's public check page, as the API gives it
  const addr = tenant.address || {};
  const receipt = h("article", { class: "receipt", id: "receipt", "aria-labelledby": "receipt-title" },
    answer.training ? h("p", { class: "training", text: t("receipt.training") }) : null,
    h("header", {}, h("strong", { text: tenant.company_name }),
      h("span", { text: [addr.line1, addr.line2, `${addr.postal_code || ""} ${addr.city || ""}`].filter(Boolean).join(", ") }),
      h("span", { text: `${t("signup.vat_number")}: ${tenant.vat_number}` })),
    h("h1", { id: "receipt-title", text: `${d.kind === "return" ? t("receipt.return_number") : t("receipt.number")} ${d.register_id} / ${answer.seq}` }),
    h("p", { text: `${fmt.dateTime(d.occurred_at, tenant.time_zone)} · ${t("receipt.seller")}: ${d.seller.name}` }),
    h("table", { class: "lines" }, h("tbody", {}, d.lines.map((l) => h("tr", {},
      h("td", { text: `${fmt.number(l.quantity / 1000)} × ${l.description}` }),
      h("td", { class: "num", text: fmt.percent(l.vat_rate) }),
      h("td", { class: "num", text: fmt.money(l.amount) })))),
    ),
    h("p", { class: "total-line" }, h("span", { text: t("till.total") }), " ", h("strong", { id: "receipt-total", text: fmt.money(d.totals.incl) })),
    h("table", { class: "vat" }, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("till.vat") }),
      h("th", { scope: "col", class: "num", text: t("receipt.excl") }), h("th", { scope: "col", class: "num", text: t("till.vat") }),
      h("th", { scope: "col", class: "num", text: t("receipt.incl") }))),
    h("tbody", {}, d.vat_totals.map((v) => h("tr", {}, h("td", { text: fmt.percent(v.rate) }),
      h("td", { class: "num", text: fmt.money(v.excl) }), h("td", { class: "num", text: fmt.money(v.vat) }),
      h("td", { class: "num", text: fmt.money(v.incl) }))))),
    h("ul", { class: "payments" }, d.payments.map((p) => h("li", { text: `${t(`method.${p.method}`)}: ${fmt.money(p.amount)}` })),
      d.change ? h("li", { text: `${t("receipt.change")}: ${fmt.money(d.change)}` }) : null),
    h("footer", {}, qrSvg(url, t("receipt.qr_label")),
      h("p", {}, t("receipt.code"), " ", h("strong", { id: "receipt-code", text: answer.receipt_proof.code })),
      h("p", { class: "small", id: "receipt-check-url", text: t("receipt.check_at", { url }) })));
  return h("section", {}, receipt,
    h("div", { class: "buttons no-print" },
      h("button", { type: "button", class: "primary", id: "print", text: t("receipt.print"), onclick: () => window.print() }),
      h("a", { href: url, class: "button secondary", id: "check-link", text: t("receipt.check") }),
      h("a", { href: "#/till", class: "button secondary", text: t("receipt.back") })));
}
