// After sign-in: the company (tenant) in use, a switch between companies, what this role can do,
// and the news of the platform. The operator, who is no company's member, gets the operator's screens.
import { api } from "../api.js";
import { h } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can, isOperator } from "../roles.js";
import { firstBook } from "./books.js";

function tileList(tiles) {
  return h("ul", { class: "tiles" }, tiles.map(([route, title, text, id]) => h("li", {},
    h("a", { href: `#/${route}`, class: "tile", id: `tile-${id || route}` }, h("strong", { text: title }), h("span", { text })))));
}

async function newsList() {
  let items = [];
  try { items = (await api("GET", "/v1/news")).news; } catch { return null; }
  if (!items.length) return null;
  // The Markdown source, as text: the console never inserts server HTML.
  return h("section", { class: "card", id: "news-home", "aria-labelledby": "news-home-title" },
    h("h2", { id: "news-home-title", text: t("home.news") }),
    items.map((n) => h("article", { class: "news-item" }, h("h3", { text: n.title }),
      h("p", { class: "hint", text: fmt.dateTime(n.visible_from) }), h("p", { class: "body", text: n.body_markdown }))));
}

export async function render(ctx) {
  const { me, tenant, membership } = ctx.state;
  const news = await newsList();
  if (isOperator(ctx.state)) {
    return h("section", {}, h("h1", { text: t("home.operator") }),
      h("dl", { class: "facts card" }, h("dt", { text: t("home.role") }), h("dd", { id: "my-role", text: t("role.operator") })),
      tileList([["queue", t("nav.queue"), t("home.queue")], ["news", t("nav.news"), t("home.news_op")],
        ["mailings", t("nav.mailings"), t("home.mailings")], ["alarms", t("nav.alarms"), t("home.alarms")]]), news);
  }
  if (!membership || !tenant) {
    return h("section", {}, h("h1", { text: t("home.title") }), h("p", { text: t("home.no_tenant") }), news);
  }
  const members = (me.memberships || []).filter((m) => m.status === "active");
  const switcher = members.length > 1 ? h("div", { class: "field narrow" },
    h("label", { for: "tenant-switch", text: t("home.switch") }),
    h("select", { id: "tenant-switch", onchange: (ev) => ctx.switchTenant(ev.target.value) },
      members.map((m) => h("option", { value: m.tenant_id, selected: m.tenant_id === membership.tenant_id,
        text: `${m.company_name} (${t(`role.${m.role}`)})` }))),
    h("p", { class: "hint" }, h("a", { href: "#/companies", id: "all-companies", text: t("home.all_companies") }))) : null;
  const tiles = [];
  if (can(ctx.state, "sale.record")) tiles.push(["till", t("nav.till"), t("home.till")]);
  if (can(ctx.state, "closure.day")) tiles.push(["closing", t("nav.closing"), t("home.closing")]);
  const book = firstBook(ctx.state);
  if (book) tiles.push([book, t("nav.books"), t("home.books"), "books"]);
  if (can(ctx.state, "export.create")) tiles.push(["exports", t("nav.exports"), t("home.exports")]);
  if (can(ctx.state, "members.manage")) tiles.push(["admin", t("nav.admin"), t("home.admin")]);
  if (can(ctx.state, "ticket.open")) tiles.push(["support", t("nav.support"), t("home.support")]);
  if (can(ctx.state, "tenant.go_live") && tenant.mode === "test") tiles.push(["golive", t("golive.title"), t("home.golive")]);
  return h("section", {},
    h("h1", { text: tenant.company_name }),
    switcher,
    h("dl", { class: "facts card" },
      h("dt", { text: t("home.role") }), h("dd", { id: "my-role", text: t(`role.${membership.role}`) }),
      membership.valid_until ? [h("dt", { text: t("home.until") }), h("dd", { id: "valid-until", text: fmt.dateTime(membership.valid_until) })] : null,
      h("dt", { text: t("home.mode") }), h("dd", { id: "tenant-mode", text: t(`mode.${tenant.mode}`) }),
      h("dt", { text: t("signup.country") }), h("dd", { text: t(`country.${tenant.country}`) }),
      h("dt", { text: t("signup.company_number") }), h("dd", { text: tenant.company_number }),
      h("dt", { text: t("signup.vat_number") }), h("dd", { text: tenant.vat_number })),
    tileList(tiles), news);
}
