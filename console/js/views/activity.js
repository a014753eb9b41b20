// The event journal (admin, accountant, auditor: sign-ins, members, grants, exports...) and the
// anomalies the rules flagged (admin, accountant).
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { errorText, forbidden, table } from "../ui.js";
import { tabs } from "./books.js";

export async function render(ctx) {
  return ctx.route === "anomalies" ? anomalies(ctx) : events(ctx);
}

function details(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

async function events(ctx) {
  if (!can(ctx.state, "events.read")) return forbidden("events.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tz = ctx.state.tenant.time_zone;
  const now = new Date();
  const monthAgo = new Date(now.getTime() - 30 * 86_400_000);
  const from = field(t("events.from"), { type: "date", id: "events-from", value: monthAgo.toISOString().slice(0, 10) });
  const to = field(t("events.to"), { type: "date", id: "events-to", value: now.toISOString().slice(0, 10) });
  const kind = field(t("events.kind"), { id: "events-kind", type: "search", autocomplete: "off" }, t("events.kind_hint"));
  const list = h("div", { id: "events-list", "aria-live": "polite" });
  let cursor = null;
  let rows = [];
  // who did it, by name where this role may read the members (events carry user ids)
  const names = new Map();
  if (can(ctx.state, "members.read")) {
    try {
      const out = await api("GET", `/v1/tenants/${tenantId}/members`);
      for (const m of out.members || []) if (m.display_name) names.set(m.user_id, m.display_name);
    } catch { /* the ids stay */ }
  }
  function draw() {
    const q = kind.input.value.trim().toLowerCase();
    const shown = rows.filter((e) => !q || e.kind.toLowerCase().includes(q));
    list.replaceChildren(shown.length ? h("div", { class: "card scroll" }, table(t("events.title"), [t("entries.seq"),
      t("entries.recorded_at"), t("events.kind"), t("events.actor"), t("events.details")],
    shown.map((e) => h("tr", { dataset: { kind: e.kind } }, h("td", { text: `#${e.seq}` }), h("td", { text: fmt.dateTime(e.recorded_at, tz) }),
      h("td", { text: e.kind }), h("td", { text: names.get(e.actor) || e.actor || "", title: e.actor || "" }), h("td", { class: "small", text: details(e.details) })))))
      : notice("info", t("events.none")),
    cursor ? h("button", { type: "button", class: "secondary", id: "events-more", text: t("entries.more"), onclick: () => load(false) }) : null);
  }
  async function load(fresh) {
    if (fresh) { rows = []; cursor = null; }
    const end = new Date(`${to.input.value}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    try {
      const page = await api("GET", `/v1/tenants/${tenantId}/events${query({ start: `${from.input.value}T00:00:00Z`,
        end: end.toISOString().replace(/\.\d+Z$/, "Z"), limit: 200, cursor })}`);
      rows = rows.concat(page.events);
      cursor = page.next_cursor;
      draw();
    } catch (err) {
      list.replaceChildren(notice("error", errorText(err)));
    }
  }
  const form = h("form", { class: "card row no-print", novalidate: true }, from, to, kind,
    h("div", { class: "field" }, h("span", { class: "label-gap", "aria-hidden": "true", text: " " }),
      h("button", { type: "submit", class: "primary", text: t("events.show") })));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(true); });
  kind.input.addEventListener("input", draw);
  await load(true);
  return h("section", {}, tabs(ctx.state, "events"), h("h1", { text: t("events.title") }), h("p", { text: t("events.intro") }), form, list);
}

async function anomalies(ctx) {
  if (!can(ctx.state, "anomalies.read")) return forbidden("anomalies.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tz = ctx.state.tenant.time_zone;
  const list = h("div", { id: "anomalies-list" });
  let cursor = null;
  let rows = [];
  async function load() {
    try {
      const page = await api("GET", `/v1/tenants/${tenantId}/anomalies${query({ limit: 50, cursor })}`);
      rows = rows.concat(page.anomalies);
      cursor = page.next_cursor;
    } catch (err) {
      list.replaceChildren(notice("error", errorText(err)));
      return;
    }
    list.replaceChildren(rows.length ? h("div", { class: "card scroll" }, table(t("anomalies.title"), [t("anomalies.severity"),
      t("anomalies.rule"), t("anomalies.summary"), t("anomalies.at"), t("events.details")],
    rows.map((a) => h("tr", { dataset: { rule: a.rule } },
      h("td", {}, h("span", { class: `badge ${a.severity === "high" || a.severity === "critical" ? "bad" : "warn"}`, text: a.severity })),
      h("td", { text: t(`rule.${a.rule}`) === `rule.${a.rule}` ? a.rule : t(`rule.${a.rule}`) }),
      h("td", { text: a.summary }), h("td", { text: fmt.dateTime(a.filed_at || a.at, tz) }),
      h("td", { class: "small", text: details(a.details) })))))
      : notice("ok", t("anomalies.none")),
    cursor ? h("button", { type: "button", class: "secondary", text: t("entries.more"), onclick: load }) : null);
  }
  await load();
  return h("section", {}, tabs(ctx.state, "anomalies"), h("h1", { text: t("anomalies.title") }),
    h("p", { text: t("anomalies.intro") }), list);
}
