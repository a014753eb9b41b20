// The platform operator: the support queue (answer, change status), news, mailings, tamper alarms.
// Never a tenant member: these routes are /v1/operator/... and need the account's operator flag.
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { isOperator } from "../roles.js";
import { errorText, forbidden, messages, table } from "../ui.js";
import { clock, statusBadge, threadView } from "./support.js";

const STATUSES = ["open", "waiting", "resolved"];

export async function render(ctx, { args, params }) {
  const titles = { queue: "queue.title", news: "news.title", mailings: "mailings.title", alarms: "alarms.title" };
  if (!isOperator(ctx.state)) return forbidden(titles[ctx.route]);
  if (ctx.route === "news") return news(ctx);
  if (ctx.route === "mailings") return mailings(ctx, args[0]);
  if (ctx.route === "alarms") return alarms();
  return args[0] ? ticket(ctx, args[0]) : queue(params.get("status") || "open");
}

async function queue(status) {
  const listed = await api("GET", `/v1/operator/tickets${query({ status, limit: 100 })}`);
  const rows = listed.tickets.map((tk) => h("tr", { dataset: { ticket: tk.ticket_id, overdue: String(tk.overdue) } },
    h("th", { scope: "row" }, h("a", { href: `#/queue/${tk.ticket_id}`, text: tk.subject })),
    h("td", { text: tk.company_name || tk.tenant_id }), h("td", { text: tk.requester_email }),
    h("td", { text: fmt.dateTime(tk.created_at) }), h("td", {}, clock(tk)), h("td", { class: "num", text: String(tk.messages) })));
  return h("section", {}, h("h1", { text: t("queue.title") }), h("p", { text: t("queue.intro") }),
    h("nav", { class: "tabs", "aria-label": t("queue.by_status") }, STATUSES.map((s) => h("a", { href: `#/queue?status=${s}`,
      text: t(`ticket.${s}`), "aria-current": s === status ? "page" : null }))),
    rows.length ? h("div", { class: "card scroll" }, table(t("queue.title"), [t("support.subject"), t("companies.company"),
      t("support.requester"), t("support.opened"), t("support.clock"), { text: t("queue.messages"), num: true }], rows, { id: "queue" }))
      : notice("ok", t("queue.empty")));
}

async function ticket(ctx, ticketId) {
  const path = `/v1/operator/tickets/${encodeURIComponent(ticketId)}`;
  const got = await api("GET", path);
  const tk = got.ticket;
  const body = field(t("support.reply"), { tag: "textarea", id: "op-reply", rows: 5, maxlength: 10000 }, t("queue.reply_hint"));
  const after = field(t("queue.status_after"), { tag: "select", id: "op-status",
    options: STATUSES.map((s) => h("option", { value: s, text: t(`ticket.${s}`), selected: s === "waiting" })) });
  const submit = h("button", { type: "submit", class: "primary", id: "op-send", text: t("queue.answer") });
  const out = messages();
  const form = h("form", { class: "card narrow", novalidate: true }, body, after, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!body.input.value.trim()) { body.setError(t("support.body_needed")); return; }
    submit.disabled = true;
    try {
      const done = await api("POST", `${path}/replies`, { body: { body: body.input.value.trim(), status: after.input.value } });
      sessionStorage.setItem("scelle.flash", done.emailed ? t("queue.sent") : t("queue.not_mailed"));
      ctx.rerender();
    } catch (err) { out.append(notice("error", errorText(err))); submit.disabled = false; }
  });
  const setStatus = h("div", { class: "buttons" }, STATUSES.filter((s) => s !== tk.status).map((s) => h("button", {
    type: "button", class: "secondary", text: t("queue.mark", { status: t(`ticket.${s}`) }), onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api("POST", `${path}/status`, { body: { status: s } }); ctx.rerender(); } catch (err) {
        out.append(notice("error", errorText(err))); ev.target.disabled = false;
      }
    } })));
  const flash = sessionStorage.getItem("scelle.flash");
  sessionStorage.removeItem("scelle.flash");
  return h("section", {}, h("p", {}, h("a", { href: "#/queue", text: t("queue.back") })),
    h("h1", { text: tk.subject }), flash ? notice("ok", flash) : null,
    h("dl", { class: "facts card" },
      h("dt", { text: t("companies.company") }), h("dd", { text: `${tk.company_name || ""} (${tk.tenant_id})` }),
      h("dt", { text: t("support.requester") }), h("dd", { text: tk.requester_email }),
      h("dt", { text: t("admin.status") }), h("dd", { id: "ticket-status" }, statusBadge(tk)),
      h("dt", { text: t("support.clock") }), h("dd", { id: "ticket-clock" }, clock(tk)),
      h("dt", { text: t("support.opened") }), h("dd", { text: fmt.dateTime(tk.created_at) })),
    threadView(got.thread), form, setStatus);
}

async function news(ctx) {
  const listed = await api("GET", "/v1/operator/news");
  const title = field(t("news.headline"), { id: "news-title", maxlength: 200, autocomplete: "off" });
  const body = field(t("news.body"), { tag: "textarea", id: "news-body", rows: 5 }, t("news.body_hint"));
  const audience = field(t("news.audience"), { tag: "select", id: "news-audience", options: ["all", "BE", "FR"].map((a) =>
    h("option", { value: a, text: t(`news.audience_${a}`) })) });
  const until = field(t("news.until"), { type: "date", id: "news-until" }, t("news.until_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "news-submit", text: t("news.publish") });
  const out = messages();
  const form = h("form", { class: "card narrow", novalidate: true, "aria-labelledby": "news-new" },
    h("h2", { id: "news-new", text: t("news.new") }), title, body, audience, until, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const request = { title: title.input.value.trim(), body: body.input.value.trim(), audience: audience.input.value };
    // the end of that day where the operator is (as the list shows it), not in UTC
    if (until.input.value) request.visible_until = new Date(`${until.input.value}T23:59:59`).toISOString();
    submit.disabled = true;
    try { await api("POST", "/v1/operator/news", { body: request }); ctx.rerender(); } catch (err) {
      out.append(notice("error", errorText(err))); submit.disabled = false;
    }
  });
  const rows = listed.news.map((n) => h("tr", { dataset: { news: n.news_id } },
    h("th", { scope: "row", text: n.title }), h("td", { text: t(`news.audience_${n.audience}`) }),
    h("td", { text: fmt.dateTime(n.visible_from) }), h("td", { text: n.withdrawn_at ? t("news.withdrawn") : n.visible_until ? fmt.dateTime(n.visible_until) : "—" }),
    h("td", {}, n.withdrawn_at ? null : h("button", { type: "button", class: "danger", text: t("news.withdraw"),
      "aria-label": t("news.withdraw_n", { title: n.title }), onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api("DELETE", `/v1/operator/news/${n.news_id}`); ctx.rerender(); } catch (err) {
          out.append(notice("error", errorText(err))); ev.target.disabled = false;
        }
      } }))));
  return h("section", {}, h("h1", { text: t("news.title") }),
    rows.length ? h("div", { class: "card scroll" }, table(t("news.title"), [t("news.headline"), t("news.audience"),
      t("news.from"), t("news.until"), ""], rows, { id: "news" })) : h("p", { text: t("news.none") }), form);
}

async function mailings(ctx, mailingId) {
  if (mailingId) return mailing(ctx, mailingId);
  const listed = await api("GET", `/v1/operator/mailings${query({ limit: 50 })}`);
  const kind = field(t("mailings.kind"), { tag: "select", id: "mailing-kind", options: ["newsletter", "recent_users"].map((k) =>
    h("option", { value: k, text: t(`mailings.kind_${k}`) })) });
  const months = field(t("mailings.months"), { type: "number", id: "mailing-months", min: 1, max: 36, value: 6 }, t("mailings.months_hint"));
  const subject = field(t("support.subject"), { id: "mailing-subject", maxlength: 200, autocomplete: "off" });
  const body = field(t("news.body"), { tag: "textarea", id: "mailing-body", rows: 6 }, t("mailings.body_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "mailing-submit", text: t("mailings.prepare") });
  const out = messages();
  const syncMonths = () => { months.hidden = kind.input.value !== "recent_users"; };
  kind.input.addEventListener("change", syncMonths);
  syncMonths();
  const form = h("form", { class: "card narrow", novalidate: true, "aria-labelledby": "mailing-new" },
    h("h2", { id: "mailing-new", text: t("mailings.new") }), kind, months, subject, body, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const request = { kind: kind.input.value, subject: subject.input.value.trim(), body: body.input.value.trim() };
    if (request.kind === "recent_users") request.months = Number(months.input.value);
    submit.disabled = true;
    try {
      const m = await api("POST", "/v1/operator/mailings", { body: request });
      ctx.go(`mailings/${m.mailing_id}`);
    } catch (err) { out.append(notice("error", errorText(err))); submit.disabled = false; }
  });
  const rows = listed.mailings.map((m) => h("tr", {}, h("th", { scope: "row" }, h("a", { href: `#/mailings/${m.mailing_id}`, text: m.subject })),
    h("td", { text: t(`mailings.kind_${m.kind}`) }), h("td", { text: t(`mailings.status_${m.status}`) }),
    h("td", { class: "num", text: m.recipients ?? "…" }), h("td", { text: fmt.dateTime(m.created_at) })));
  return h("section", {}, h("h1", { text: t("mailings.title") }), h("p", { text: t("mailings.intro") }),
    rows.length ? h("div", { class: "card scroll" }, table(t("mailings.title"), [t("support.subject"), t("mailings.kind"),
      t("admin.status"), { text: t("mailings.recipients"), num: true }, t("mailings.created")], rows)) : h("p", { text: t("mailings.none") }),
    form);
}

async function mailing(ctx, mailingId) {
  const path = `/v1/operator/mailings/${encodeURIComponent(mailingId)}`;
  const m = await api("GET", path);
  const out = messages();
  const act = (label, sub, body, cls = "secondary") => h("button", { type: "button", class: cls, text: label, onclick: async (ev) => {
    ev.target.disabled = true;
    try { await api("POST", `${path}/${sub}`, body ? { body } : {}); ctx.rerender(); } catch (err) {
      out.append(notice("error", errorText(err))); ev.target.disabled = false;
    }
  } });
  const p = m.progress;
  const section = h("section", {}, h("p", {}, h("a", { href: "#/mailings", text: t("mailings.back") })),
    h("h1", { text: m.subject }),
    h("dl", { class: "facts card" },
      h("dt", { text: t("mailings.kind") }), h("dd", { text: t(`mailings.kind_${m.kind}`) }),
      h("dt", { text: t("admin.status") }), h("dd", { id: "mailing-status", text: t(`mailings.status_${m.status}`) }),
      h("dt", { text: t("mailings.recipients") }), h("dd", { text: m.recipients ?? "…" }),
      p ? [h("dt", { text: t("exports.progress") }), h("dd", {}, h("progress", { max: p.total || 1, value: p.sent + p.skipped,
        "aria-label": t("exports.progress") }), " ", t("mailings.progress", p))] : null,
      m.last_error ? [h("dt", { text: t("mailings.error") }), h("dd", { text: m.last_error })] : null),
    h("div", { class: "buttons" },
      m.status === "prepared" ? act(t("mailings.confirm", { count: m.recipients }), "confirm", { recipients: m.recipients }, "primary") : null,
      m.status === "failed" || m.status === "sending" ? act(t("mailings.resume"), "resume") : null,
      ["preparing", "prepared", "sending", "failed"].includes(m.status) ? act(t("mailings.cancel"), "cancel", null, "danger") : null),
    out);
  if (m.status === "preparing" || m.status === "sending") {
    setTimeout(() => { if (section.isConnected) ctx.rerender(); }, 1500);
  }
  return section;
}

async function alarms() {
  const listed = await api("GET", `/v1/operator/alarms${query({ limit: 100 })}`);
  const rows = listed.alarms.map((a) => h("tr", { dataset: { tenant: a.tenant_id } },
    h("td", { text: fmt.dateTime(a.raised_at) }), h("td", { class: "mono", text: a.tenant_id }), h("td", { class: "mono", text: a.chain }),
    h("td", { class: "num", text: a.seq ?? "—" }), h("td", { text: a.reason }), h("td", { class: "small", text: a.detail }),
    h("td", { text: a.source })));
  return h("section", {}, h("h1", { text: t("alarms.title") }), h("p", { text: t("alarms.intro") }),
    rows.length ? h("div", { class: "card scroll" }, table(t("alarms.title"), [t("alarms.raised"), t("alarms.tenant"),
      t("entries.chain"), { text: t("entries.seq"), num: true }, t("alarms.reason"), t("events.details"), t("alarms.source")], rows,
    { id: "alarms" })) : notice("ok", t("alarms.none")));
}
