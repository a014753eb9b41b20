// Administration (admin): company settings, members and invitations (invite, change role, disable),
// auditor grants (grant, revoke). An accountant may read the members (members.read) elsewhere, not here.
import { api } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { errorText, forbidden, messages, newKey, showFieldErrors, table } from "../ui.js";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ROLES = ["admin", "accountant", "manager", "seller"];
const ZONES = ["Europe/Brussels", "Europe/Paris", "Europe/Monaco", "Europe/Luxembourg", "Europe/Amsterdam",
  "America/Guadeloupe", "America/Martinique", "America/Cayenne", "Indian/Reunion", "Indian/Mayotte", "Pacific/Noumea",
  "Pacific/Tahiti", "America/Miquelon"];

export async function render(ctx) {
  if (!can(ctx.state, "members.manage")) return forbidden("admin.title");
  const tenantId = ctx.state.membership.tenant_id;
  const base = `/v1/tenants/${tenantId}`;
  const [settings, roster, grants] = await Promise.all([api("GET", `${base}/settings`), api("GET", `${base}/members`),
    can(ctx.state, "auditor.grant") ? api("GET", `${base}/auditor-grants`) : Promise.resolve({ grants: [] })]);
  const members = h("div", { id: "members-slot" });
  const grantList = h("div", { id: "grants-slot" });
  const section = h("section", {}, h("h1", { text: t("admin.title") }),
    h("nav", { class: "tabs", "aria-label": t("admin.title") },
      h("a", { href: "#/admin", text: t("admin.settings"), onclick: (ev) => jump(ev, "settings-title") }),
      h("a", { href: "#/admin", text: t("admin.members"), onclick: (ev) => jump(ev, "members-title") }),
      can(ctx.state, "auditor.grant") ? h("a", { href: "#/admin", text: t("admin.grants"), onclick: (ev) => jump(ev, "grants-title") }) : null),
    can(ctx.state, "tenant.configure") ? settingsCard(ctx, base, settings) : null,
    members, can(ctx.state, "auditor.grant") ? grantList : null);
  drawMembers(ctx, base, roster, members);
  drawGrants(ctx, base, grants, grantList);
  return section;
}

function jump(ev, id) {
  ev.preventDefault();
  const el = document.getElementById(id);
  el.scrollIntoView();
  el.focus();
}

function settingsCard(ctx, base, settings) {
  const tenant = ctx.state.tenant;
  const zone = field(t("admin.time_zone"), { id: "set-zone", list: "zones", value: settings.time_zone, autocomplete: "off" },
    t("admin.frozen_hint"));
  const cutoff = field(t("admin.cutoff"), { id: "set-cutoff", type: "time", value: settings.business_day_cutoff, max: "11:59" },
    t("admin.cutoff_hint"));
  const hours = settings.opening_hours || {};
  const days = WEEKDAYS.map((d) => field(t(`day.${d}`), { id: `hours-${d}`, name: d, autocomplete: "off",
    value: hours[d] ? hours[d].join(", ") : "", placeholder: t("admin.closed") }));
  const configured = h("input", { type: "checkbox", id: "hours-on", checked: Boolean(settings.opening_hours) });
  const submit = h("button", { type: "submit", class: "primary", id: "settings-save", text: t("admin.save") });
  const out = messages();
  const form = h("form", { class: "card", id: "settings-form", novalidate: true, "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title", tabindex: "-1", text: t("admin.settings") }),
    h("dl", { class: "facts" },
      h("dt", { text: t("signup.company_name") }), h("dd", { text: tenant.company_name }),
      h("dt", { text: t("signup.company_number") }), h("dd", { text: tenant.company_number }),
      h("dt", { text: t("signup.vat_number") }), h("dd", { text: tenant.vat_number }),
      h("dt", { text: t("signup.line1") }), h("dd", { text: tenant.address ? `${tenant.address.line1}, ${tenant.address.postal_code} ${tenant.address.city}` : "" }),
      h("dt", { text: t("home.mode") }), h("dd", { text: t(`mode.${tenant.mode}`) })),
    h("p", { class: "hint", text: t("admin.company_fixed") }),
    h("datalist", { id: "zones" }, ZONES.map((z) => h("option", { value: z }))),
    h("div", { class: "row" }, zone, cutoff),
    h("fieldset", {}, h("legend", { text: t("admin.opening_hours") }),
      h("div", { class: "check" }, configured, h("label", { for: "hours-on", text: t("admin.hours_on") })),
      h("p", { class: "hint", text: t("admin.hours_hint") }),
      h("div", { class: "row days" }, days)),
    submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    [zone, cutoff, ...days].forEach((f) => f.setError(""));
    const change = {};
    if (zone.input.value.trim() !== settings.time_zone) change.time_zone = zone.input.value.trim();
    if (cutoff.input.value !== settings.business_day_cutoff) change.business_day_cutoff = cutoff.input.value;
    const next = configured.checked ? Object.fromEntries(days.map((f) => [f.input.name,
      f.input.value.trim() ? f.input.value.split(/[,;]\s*|\s+/).map((w) => w.trim()).filter(Boolean) : null])) : null;
    if (JSON.stringify(next) !== JSON.stringify(settings.opening_hours || null)) change.opening_hours = next;
    if (!Object.keys(change).length) { out.append(notice("info", t("admin.nothing_changed"))); return; }
    submit.disabled = true;
    try {
      Object.assign(settings, await api("PUT", `${base}/settings`, { body: change }));
      out.append(notice("ok", t("admin.saved")));
      await ctx.reloadTenant();
    } catch (err) {
      const byField = { time_zone: zone, business_day_cutoff: cutoff };
      days.forEach((f) => { byField[`opening_hours.${f.input.name}`] = f; });
      for (const e of err.fieldErrors || []) {
        const key = Object.keys(byField).find((k) => e.field === k || String(e.field).startsWith(`${k}.`));
        if (key) byField[key].setError(e.detail);
      }
      if (!(err.fieldErrors || []).length) out.append(notice("error", errorText(err)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function drawMembers(ctx, base, roster, slot) {
  const me = ctx.state.me.user_id;
  const out = messages();
  const reload = async () => drawMembers(ctx, base, await api("GET", `${base}/members`), slot);
  const rows = roster.members.filter((m) => m.role !== "auditor").map((m) => {
    const role = h("select", { "aria-label": t("admin.role_of", { email: m.email }), class: "member-role" },
      ROLES.map((r) => h("option", { value: r, text: t(`role.${r}`), selected: r === m.role })));
    const name = h("input", { value: m.display_name, "aria-label": t("admin.name_of", { email: m.email }), maxlength: 200,
      class: "member-name", autocomplete: "off" });
    const save = h("button", { type: "button", class: "secondary", text: t("admin.save"), "aria-label": t("admin.save_of", { email: m.email }),
      onclick: async () => {
        const change = {};
        if (role.value !== m.role) change.role = role.value;
        if (name.value.trim() && name.value.trim() !== m.display_name) change.display_name = name.value.trim();
        if (!Object.keys(change).length) { out.replaceChildren(notice("info", t("admin.nothing_changed"))); return; }
        save.disabled = true;
        try {
          await api("PUT", `${base}/members/${m.user_id}`, { body: change });
          await reload();
          slot.querySelector(".messages").replaceChildren(notice("ok", t("admin.member_saved", { email: m.email })));
        } catch (err) { out.replaceChildren(notice("error", errorText(err))); save.disabled = false; }
      } });
    const disabled = m.status === "disabled";
    const toggle = h("button", { type: "button", class: disabled ? "secondary" : "danger",
      text: disabled ? t("admin.enable") : t("admin.remove"), "aria-label": t(disabled ? "admin.enable_of" : "admin.remove_of", { email: m.email }),
      onclick: async () => {
        if (!disabled && !window.confirm(t("admin.remove_confirm", { email: m.email }))) return;
        toggle.disabled = true;
        try {
          await api("PUT", `${base}/members/${m.user_id}`, { body: { disabled: !disabled } });
          await reload();
          slot.querySelector(".messages").replaceChildren(notice("ok", t(disabled ? "admin.enabled" : "admin.removed", { email: m.email })));
        } catch (err) { out.replaceChildren(notice("error", errorText(err))); toggle.disabled = false; }
      } });
    return h("tr", { dataset: { email: m.email, status: m.status } },
      h("th", { scope: "row" }, m.email, m.user_id === me ? h("span", { class: "badge", text: t("admin.you") }) : null),
      h("td", {}, name), h("td", {}, role),
      h("td", { text: t(`status.${m.status}`) }), h("td", {}, h("div", { class: "buttons" }, save, toggle)));
  });
  const invites = roster.invitations.map((i) => h("tr", { dataset: { email: i.email } },
    h("th", { scope: "row", text: i.email }), h("td", { text: i.display_name || "" }), h("td", { text: t(`role.${i.role}`) }),
    h("td", { text: t("admin.invited_until", { date: fmt.dateTime(i.expires_at) }) })));

  // Invite: email, role, optional display name; the mailed token joins them (#/accept).
  const email = field(t("field.email"), { type: "email", id: "invite-email", autocomplete: "off", required: true });
  const role = field(t("admin.role"), { tag: "select", id: "invite-role",
    options: ROLES.map((r) => h("option", { value: r, text: t(`role.${r}`), selected: r === "seller" })) });
  const name = field(t("admin.display_name"), { id: "invite-name", autocomplete: "off", maxlength: 200 }, t("admin.display_name_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "invite-submit", text: t("admin.invite") });
  const inviteOut = messages();
  const form = h("form", { class: "card narrow", id: "invite-form", novalidate: true, "aria-labelledby": "invite-title" },
    h("h3", { id: "invite-title", text: t("admin.invite_title") }), email, role, name, submit, inviteOut);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    inviteOut.replaceChildren();
    email.setError("");
    if (!email.input.value.includes("@")) { email.setError(t("admin.email_bad")); email.input.focus(); return; }
    submit.disabled = true;
    const body = { email: email.input.value.trim(), role: role.input.value };
    if (name.input.value.trim()) body.display_name = name.input.value.trim();
    try {
      await api("POST", `${base}/invitations`, { body, headers: { "Idempotency-Key": newKey("invite") } });
      await reload();
      slot.querySelector(".messages").replaceChildren(notice("ok", t("admin.invited", { email: body.email })));
    } catch (err) {
      showFieldErrors(err, { email, role, display_name: name }, inviteOut);
      submit.disabled = false;
    }
  });
  slot.replaceChildren(h("section", { class: "card", "aria-labelledby": "members-title" },
    h("h2", { id: "members-title", tabindex: "-1", text: t("admin.members") }), out,
    h("div", { class: "scroll" }, table(t("admin.members"), [t("field.email"), t("admin.display_name"), t("admin.role"),
      t("admin.status"), ""], rows, { id: "members" })),
    h("h3", { text: t("admin.pending") }),
    invites.length ? h("div", { class: "scroll" }, table(t("admin.pending"), [t("field.email"), t("admin.display_name"),
      t("admin.role"), t("admin.status")], invites, { id: "invitations" })) : h("p", { text: t("admin.no_pending") }),
    form));
}

function drawGrants(ctx, base, grants, slot) {
  const out = messages();
  const reload = async () => drawGrants(ctx, base, await api("GET", `${base}/auditor-grants`), slot);
  const rows = grants.grants.map((g) => h("tr", { dataset: { email: g.email, status: g.status } },
    h("th", { scope: "row", text: g.email }), h("td", { text: g.note }), h("td", { text: t(`status.${g.status}`) }),
    h("td", { text: fmt.dateTime(g.valid_until) }),
    h("td", {}, g.status === "pending" || g.status === "active" ? h("button", { type: "button", class: "danger",
      text: t("admin.revoke"), "aria-label": t("admin.revoke_of", { email: g.email }), onclick: async (ev) => {
        if (!window.confirm(t("admin.revoke_confirm", { email: g.email }))) return;
        ev.target.disabled = true;
        try {
          await api("DELETE", `${base}/auditor-grants/${g.grant_id}`);
          await reload();
        } catch (err) { out.replaceChildren(notice("error", errorText(err))); ev.target.disabled = false; }
      } }) : null)));
  const email = field(t("field.email"), { type: "email", id: "grant-email", autocomplete: "off" });
  const days = field(t("admin.days"), { type: "number", id: "grant-days", min: 1, max: 366, value: 30, inputmode: "numeric" },
    t("admin.days_hint"));
  const note = field(t("admin.note"), { id: "grant-note", maxlength: 200, autocomplete: "off" }, t("admin.note_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "grant-submit", text: t("admin.grant") });
  const grantOut = messages();
  const form = h("form", { class: "card narrow", id: "grant-form", novalidate: true, "aria-labelledby": "grant-form-title" },
    h("h3", { id: "grant-form-title", text: t("admin.grant_title") }), email, days, note, submit, grantOut);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    grantOut.replaceChildren();
    [email, days].forEach((f) => f.setError(""));
    submit.disabled = true;
    const body = { email: email.input.value.trim(), days: Number(days.input.value), note: note.input.value.trim() };
    try {
      await api("POST", `${base}/auditor-grants`, { body, headers: { "Idempotency-Key": newKey("grant") } });
      await reload();
      slot.querySelector(".messages").replaceChildren(notice("ok", t("admin.granted", { email: body.email })));
    } catch (err) {
      showFieldErrors(err, { email, days, note }, grantOut);
      submit.disabled = false;
    }
  });
  slot.replaceChildren(h("section", { class: "card", "aria-labelledby": "grants-title" },
    h("h2", { id: "grants-title", tabindex: "-1", text: t("admin.grants") }), h("p", { text: t("admin.grants_intro") }), out,
    rows.length ? h("div", { class: "scroll" }, table(t("admin.grants"), [t("field.email"), t("admin.note"), t("admin.status"),
      t("admin.valid_until"), ""], rows, { id: "grants" })) : h("p", { text: t("admin.no_grants") }),
    form));
}
