// Every company the signed-in person is a member of, with what needs attention in each (test
// mode, anomalies, chains that fail verification), and a switch to any of them.
import { api, query } from "../api.js";
import { h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { roleCan } from "../roles.js";
import { errorText, table } from "../ui.js";

const PARALLEL = 4; // companies checked at once

async function attention(m) {
  const out = { anomalies: null, moreAnomalies: false, chains: null, failing: [] };
  const base = `/v1/tenants/${m.tenant_id}`;
  const jobs = [];
  if (roleCan(m.role, "anomalies.read")) {
    jobs.push(api("GET", `${base}/anomalies${query({ limit: 50 })}`).then((a) => {
      out.anomalies = a.anomalies.length;
      out.moreAnomalies = Boolean(a.next_cursor);
    }));
  }
  if (roleCan(m.role, "ledger.verify")) {
    jobs.push(api("GET", `${base}/chains`).then(async (listed) => {
      out.chains = listed.chains.length;
      for (const chain of listed.chains) {
        const report = await api("POST", `${base}/verifications`, { body: { chain } });
        if (!report.ok) out.failing.push(chain);
      }
    }));
  }
  await Promise.all(jobs);
  return out;
}

export async function render(ctx) {
  const { me, membership } = ctx.state;
  const members = (me.memberships || []).filter((m) => m.status === "active");
  const title = h("h1", { text: t("companies.title") });
  if (!members.length) return h("section", {}, title, notice("info", t("home.no_tenant")));
  const filter = h("input", { type: "search", id: "company-filter", autocomplete: "off" });
  const rows = members.map((m) => {
    const cell = h("td", { class: "attention", text: t("companies.checking") });
    const open = h("button", { type: "button", class: m.tenant_id === membership?.tenant_id ? "secondary" : "primary",
      text: m.tenant_id === membership?.tenant_id ? t("companies.current") : t("companies.open"),
      "aria-label": t(m.tenant_id === membership?.tenant_id ? "companies.current_named" : "companies.open_named",
        { name: m.company_name || m.tenant_id }),
      onclick: async () => { await ctx.switchTenant(m.tenant_id); ctx.go("home"); } });
    const row = h("tr", { dataset: { tenant: m.tenant_id, name: (m.company_name || "").toLowerCase() } },
      h("th", { scope: "row" }, h("strong", { text: m.company_name || m.tenant_id })),
      h("td", { text: t(`role.${m.role}`) + (m.valid_until ? ` · ${t("companies.until", { date: fmt.dateTime(m.valid_until) })}` : "") }),
      h("td", {}, m.mode === "test" ? h("span", { class: "badge warn", text: t("mode.test") })
        : h("span", { class: "badge ok", text: t("mode.production") })),
      cell, h("td", {}, open));
    row.cell = cell;
    row.member = m;
    return row;
  });
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    rows.forEach((r) => { r.hidden = Boolean(q) && !r.dataset.name.includes(q); });
  });
  const list = table(t("companies.title"), [t("companies.company"), t("home.role"), t("home.mode"),
    t("companies.attention"), ""], rows, { id: "companies" });

  // What needs attention, a few companies at a time.
  const queue = rows.slice();
  async function worker() {
    while (queue.length) {
      const row = queue.shift();
      try {
        const a = await attention(row.member);
        const items = [];
        if (a.failing.length) items.push(h("li", { class: "bad", text: t("companies.failing", { chains: a.failing.join(", ") }) }));
        if (a.anomalies) items.push(h("li", { class: "warn", text: t("companies.anomalies", { count: a.anomalies + (a.moreAnomalies ? "+" : "") }) }));
        if (row.member.mode === "test") items.push(h("li", { text: t("companies.in_test") }));
        if (a.chains && !a.failing.length) items.push(h("li", { class: "good", text: t("companies.verified", { count: a.chains }) }));
        row.cell.replaceChildren(items.length ? h("ul", { class: "plain" }, items) : t("companies.nothing"));
        row.dataset.attention = a.failing.length || a.anomalies ? "yes" : "no";
      } catch (err) {
        row.cell.replaceChildren(h("span", { class: "error-text", text: errorText(err) }));
        row.dataset.attention = "error";
      }
    }
  }
  const section = h("section", {}, title, h("p", { text: t("companies.intro") }),
    h("div", { class: "field narrow" }, h("label", { for: "company-filter", text: t("companies.filter") }), filter),
    h("div", { class: "card scroll" }, list));
  Promise.all(Array.from({ length: PARALLEL }, worker)).then(() => { section.dataset.ready = "1"; });
  return section;
}
