// Support (every member but the auditor): open a ticket with an optional attachment (uploaded with
// the pre-signed POST the API returns), follow its thread and the first-response clock, answer.
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { bytes, errorText, forbidden, messages, newKey, table } from "../ui.js";

export const ATTACHMENT_TYPES = ["application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"];
export const MAX_ATTACHMENT = 5 * 1024 * 1024;

function duration(minutes) {
  const m = Math.max(0, Math.round(minutes));
  return m >= 60 ? t("support.hours_minutes", { h: Math.floor(m / 60), m: m % 60 }) : t("support.minutes", { m });
}

// The first-response clock: answered after N business minutes, due in (wall-clock) time, or overdue.
export function clock(ticket) {
  if (ticket.first_response_at) {
    return h("span", { class: "clock good", dataset: { clock: "answered" },
      text: t("support.answered_in", { time: duration(ticket.first_response_business_minutes ?? 0) }) });
  }
  const left = (new Date(ticket.due_at).getTime() - Date.now()) / 60_000;
  if (ticket.overdue || left <= 0) {
    return h("span", { class: "clock bad", dataset: { clock: "overdue" },
      text: t("support.overdue", { at: fmt.dateTime(ticket.due_at) }) });
  }
  return h("span", { class: "clock warn", dataset: { clock: "running" },
    text: t("support.due", { at: fmt.dateTime(ticket.due_at), left: duration(left) }) });
}

export function statusBadge(ticket) {
  return h("span", { class: `badge status-${ticket.status}`, text: t(`ticket.${ticket.status}`) });
}

export function threadView(thread) {
  return h("ol", { class: "thread", id: "thread" }, thread.map((m) => h("li", { class: `msg ${m.author}`, dataset: { author: m.author } },
    h("p", { class: "meta" }, h("strong", { text: m.author === "operator" ? t("support.from_support") : m.author_name }), " · ",
      fmt.dateTime(m.at), m.channel === "email" ? ` · ${t("support.by_email")}` : ""),
    h("p", { class: "body", text: m.body }),
    m.attachment ? h("p", { class: "attachment" }, m.attachment.download_url
      ? h("a", { href: m.attachment.download_url, rel: "noopener noreferrer", class: "attachment-link",
        text: t("support.attachment", { name: m.attachment.filename, size: bytes(m.attachment.size) }) })
      : h("span", { class: "hint", text: t("support.attachment_missing", { name: m.attachment.filename }) })) : null)));
}

// Uploads a file with a pre-signed POST (S3 checks its policy: key, type, size). The storage's
// answer may not be readable here (another origin, without CORS headers): the ticket's thread, which
// says whether the file landed, is the judge.
export async function upload(target, file) {
  const form = new FormData();
  Object.entries(target.fields).forEach(([k, v]) => form.append(k, v));
  form.append("file", file);
  await fetch(target.url, { method: "POST", body: form, credentials: "omit" });
}

export async function render(ctx, { args }) {
  if (!can(ctx.state, "ticket.open")) return forbidden("support.title");
  const tenantId = ctx.state.membership.tenant_id;
  return args[0] ? ticketView(ctx, tenantId, args[0]) : listView(ctx, tenantId);
}

async function listView(ctx, tenantId) {
  const listed = await api("GET", `/v1/tenants/${tenantId}/tickets${query({ limit: 50 })}`);
  const subject = field(t("support.subject"), { id: "ticket-subject", maxlength: 200, autocomplete: "off" });
  const body = field(t("support.body"), { tag: "textarea", id: "ticket-body", rows: 5, maxlength: 10000 });
  const file = field(t("support.file"), { type: "file", id: "ticket-file", accept: ATTACHMENT_TYPES.join(",") },
    t("support.file_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "ticket-submit", text: t("support.open") });
  const out = messages();
  const form = h("form", { class: "card narrow", id: "ticket-form", novalidate: true, "aria-labelledby": "new-ticket" },
    h("h2", { id: "new-ticket", text: t("support.new") }), subject, body, file, submit, out);
  let key = newKey("ticket");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    [subject, body, file].forEach((f) => f.setError(""));
    if (!subject.input.value.trim()) { subject.setError(t("support.subject_needed")); subject.input.focus(); return; }
    if (!body.input.value.trim()) { body.setError(t("support.body_needed")); body.input.focus(); return; }
    const chosen = file.input.files[0];
    if (chosen && !ATTACHMENT_TYPES.includes(chosen.type)) { file.setError(t("support.file_type")); return; }
    if (chosen && (chosen.size > MAX_ATTACHMENT || chosen.size === 0)) { file.setError(t("support.file_size")); return; }
    submit.disabled = true;
    const request = { subject: subject.input.value.trim(), body: body.input.value.trim() };
    if (chosen) request.attachment = { filename: chosen.name, content_type: chosen.type, size: chosen.size };
    try {
      const opened = await api("POST", `/v1/tenants/${tenantId}/tickets`, { body: request, headers: { "Idempotency-Key": key } });
      key = newKey("ticket");
      if (chosen && opened.upload) {
        out.append(notice("info", t("support.uploading")));
        try {
          await upload(opened.upload, chosen);
        } catch {
          // Refused before it left (no connection, or a Content-Security-Policy without the storage's origin).
          sessionStorage.setItem("scelle.flash", t("support.upload_failed", { name: chosen.name }));
        }
      }
      ctx.go(`support/${opened.ticket.ticket_id}`);
    } catch (err) {
      const fe = (err.fieldErrors || [])[0];
      if (fe && fe.field === "subject") subject.setError(fe.detail);
      else if (fe && fe.field === "body") body.setError(fe.detail);
      else if (fe && String(fe.field).startsWith("attachment")) file.setError(fe.detail);
      else out.append(notice("error", errorText(err)));
      submit.disabled = false;
    }
  });
  const rows = listed.tickets.map((tk) => h("tr", { dataset: { ticket: tk.ticket_id } },
    h("th", { scope: "row" }, h("a", { href: `#/support/${tk.ticket_id}`, text: tk.subject })),
    h("td", {}, statusBadge(tk)), h("td", { text: fmt.dateTime(tk.created_at) }), h("td", {}, clock(tk)),
    ctx.state.membership.role === "admin" ? h("td", { text: tk.requester_email }) : null));
  return h("section", {}, h("h1", { text: t("support.title") }), h("p", { text: t("support.intro") }),
    h("section", { class: "card", "aria-labelledby": "my-tickets" }, h("h2", { id: "my-tickets",
      text: ctx.state.membership.role === "admin" ? t("support.company_tickets") : t("support.my_tickets") }),
    rows.length ? h("div", { class: "scroll" }, table(t("support.my_tickets"), [t("support.subject"), t("admin.status"),
      t("support.opened"), t("support.clock"), ctx.state.membership.role === "admin" ? t("support.requester") : null].filter(Boolean),
    rows, { id: "tickets" })) : h("p", { text: t("support.none") })), form);
}

async function ticketView(ctx, tenantId, ticketId) {
  const path = `/v1/tenants/${tenantId}/tickets/${encodeURIComponent(ticketId)}`;
  const got = await api("GET", path);
  const tk = got.ticket;
  const reply = field(t("support.reply"), { tag: "textarea", id: "reply-body", rows: 4, maxlength: 10000 });
  const submit = h("button", { type: "submit", class: "primary", id: "reply-submit", text: t("support.send") });
  const out = messages();
  const form = h("form", { class: "card narrow", novalidate: true }, reply, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!reply.input.value.trim()) { reply.setError(t("support.body_needed")); return; }
    submit.disabled = true;
    try {
      await api("POST", `${path}/messages`, { body: { body: reply.input.value.trim() } });
      ctx.rerender();
    } catch (err) { out.append(notice("error", errorText(err))); submit.disabled = false; }
  });
  // A refused upload is said only if the file did not land (an unreadable answer may hide a success).
  const missing = got.thread.some((m) => m.attachment && !m.attachment.download_url);
  const flash = missing ? sessionStorage.getItem("scelle.flash") : null;
  sessionStorage.removeItem("scelle.flash");
  return h("section", {}, h("p", {}, h("a", { href: "#/support", text: t("support.back") })),
    h("h1", { text: tk.subject }), flash ? notice("error", flash) : null,
    h("dl", { class: "facts card" },
      h("dt", { text: t("admin.status") }), h("dd", { id: "ticket-status" }, statusBadge(tk)),
      h("dt", { text: t("support.clock") }), h("dd", { id: "ticket-clock" }, clock(tk)),
      h("dt", { text: t("support.opened") }), h("dd", { text: fmt.dateTime(tk.created_at) }),
      h("dt", { text: t("support.ref") }), h("dd", { class: "mono", text: tk.ticket_id })),
    h("p", { class: "hint", text: t("support.sla") }),
    threadView(got.thread), form);
}
