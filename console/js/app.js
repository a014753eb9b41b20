// The console's shell: header, test-mode banner, language switch, router.
import { api, ApiError, onSessionChange, signedIn, signOut, currentSession } from "./api.js";
import { h, clear, notice } from "./dom.js";
import { LANGUAGES, language, onLanguageChange, setCountry, setLanguage, t } from "./i18n.js";
import { can, isOperator } from "./roles.js";
import { BOOKS, firstBook } from "./views/books.js";
import * as accept from "./views/accept.js";
import * as activity from "./views/activity.js";
import * as admin from "./views/admin.js";
import * as auth from "./views/auth.js";
import * as chains from "./views/chains.js";
import * as check from "./views/check.js";
import * as closing from "./views/closing.js";
import * as companies from "./views/companies.js";
import * as entries from "./views/entries.js";
import * as exportsView from "./views/exports.js";
import * as golive from "./views/golive.js";
import * as home from "./views/home.js";
import * as journal from "./views/journal.js";
import * as operator from "./views/operator.js";
import * as signup from "./views/signup.js";
import * as support from "./views/support.js";
import * as till from "./views/till.js";
import * as verifyExport from "./views/verify.js";

const TENANT_KEY = "scelle.tenant";
const main = document.getElementById("main");
const state = { me: null, tenant: null, membership: null };

// route name -> [module, needs a session]
const ROUTES = {
  signin: [auth, false], verify: [auth, false], reset: [auth, false], signup: [signup, false],
  home: [home, true], till: [till, true], receipt: [till, true],
  closing: [closing, true], golive: [golive, true],
  accept: [accept, false], companies: [companies, true], journal: [journal, true], entries: [entries, true],
  chains: [chains, true], events: [activity, true], anomalies: [activity, true], exports: [exportsView, true],
  admin: [admin, true], support: [support, true], "verify-export": [verifyExport, false],
  queue: [operator, true], news: [operator, true], mailings: [operator, true], alarms: [operator, true],
};

// The main menu: route, label key, shown when (the role's permissions, docs/roles.md). The books'
// screens share one entry, which opens the first of them the role may see (books.js: its tabs).
const NAV = [
  ["home", "nav.home", () => true],
  ["companies", "nav.companies", (s) => (s.me.memberships || []).filter((m) => m.status === "active").length > 1],
  ["till", "nav.till", (s) => can(s, "sale.record")],
  ["closing", "nav.closing", (s) => can(s, "closure.day")],
  ["books", "nav.books", (s) => Boolean(firstBook(s))],
  ["exports", "nav.exports", (s) => can(s, "export.create")],
  ["verify-export", "nav.verify_export", (s) => can(s, "export.create")],
  ["admin", "nav.admin", (s) => can(s, "members.manage")],
  ["support", "nav.support", (s) => can(s, "ticket.open")],
  ["queue", "nav.queue", (s) => isOperator(s)],
  ["news", "nav.news", (s) => isOperator(s)],
  ["mailings", "nav.mailings", (s) => isOperator(s)],
  ["alarms", "nav.alarms", (s) => isOperator(s)],
];

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, q = ""] = raw.split("?");
  const [name, ...rest] = path.split("/");
  return { name: name || "", args: rest.map(decodeURIComponent), params: new URLSearchParams(q) };
}

export function go(route) { location.hash = `#/${route}`; }

async function loadMe() {
  state.me = await api("GET", "/v1/me");
  const members = (state.me.memberships || []).filter((m) => m.status === "active");
  const wanted = sessionStorage.getItem(TENANT_KEY);
  state.membership = members.find((m) => m.tenant_id === wanted) || members[0] || null;
  state.tenant = null;
  if (state.membership) {
    sessionStorage.setItem(TENANT_KEY, state.membership.tenant_id);
    state.tenant = await api("GET", `/v1/tenants/${state.membership.tenant_id}`);
    setCountry(state.tenant.country);
  }
}

export async function switchTenant(tenantId) {
  sessionStorage.setItem(TENANT_KEY, tenantId);
  await loadMe();
  render();
}

export async function reloadTenant() {
  if (state.membership) state.tenant = await api("GET", `/v1/tenants/${state.membership.tenant_id}`);
  renderChrome();
}

function renderChrome() {
  const banner = document.getElementById("testmode");
  const tenant = state.tenant;
  if (tenant && tenant.mode === "test") {
    banner.hidden = false;
    clear(banner, h("strong", { text: t("testmode.title") }), " ", t("testmode.body"),
      can(state, "tenant.go_live") ? [" ", h("a", { href: "#/golive", text: t("testmode.golive") })] : null);
  } else {
    banner.hidden = true;
    clear(banner);
  }
  const nav = document.getElementById("nav");
  const links = [];
  if (signedIn() && state.me) {
    NAV.forEach(([route, key, shown]) => { if (shown(state)) links.push([route === "books" ? firstBook(state) : route, t(key)]); });
  } else {
    links.push(["signin", t("nav.signin")], ["signup", t("nav.signup")], ["verify-export", t("nav.verify_export")]);
  }
  let current = parseHash().name || "home";
  if (BOOKS.some(([r]) => r === current)) current = firstBook(state);
  clear(nav, links.map(([route, label]) => h("a", {
    href: `#/${route}`, text: label, "aria-current": current === route ? "page" : null,
  })));
  const user = document.getElementById("user");
  const session = currentSession();
  clear(user, signedIn() && session ? [
    h("span", { class: "who", text: state.tenant ? `${session.email || ""} · ${state.tenant.company_name}` : (session.email || "") }),
    h("button", { type: "button", class: "link", id: "signout", text: t("nav.signout"),
      onclick: async () => { await signOut(); sessionStorage.removeItem(TENANT_KEY); go("signin"); } }),
  ] : []);
  const select = document.getElementById("lang");
  if (!select.options.length) {
    Object.entries(LANGUAGES).forEach(([code, name]) => select.append(h("option", { value: code, text: name, lang: code })));
    select.addEventListener("change", () => setLanguage(select.value));
  }
  select.value = language();
  document.getElementById("lang-label").textContent = t("nav.language");
  document.getElementById("skip").textContent = t("nav.skip");
}

let renderSeq = 0;
export async function render() {
  const seq = ++renderSeq;
  if (location.pathname === "/check") {
    renderChrome();
    const node = await check.render({ state, go }, { params: new URLSearchParams(location.search) });
    if (seq === renderSeq) { clear(main, node); document.title = `${t("check.title")} · Scellé`; }
    return;
  }
  let { name, args, params } = parseHash();
  if (!name) name = signedIn() ? "home" : "signin";
  const route = ROUTES[name] || ROUTES.home;
  try {
    if (route[1] && !signedIn()) { go("signin"); return; }
    if (route[1] && !state.me) await loadMe();
    // A public screen a signed-in user opens (verify-export) shows their menu too; signed out, it still works.
    if (!route[1] && route[0] === verifyExport && signedIn() && !state.me) await loadMe().catch(() => {});
    renderChrome();
    const node = await route[0].render({ state, go, reloadTenant, switchTenant, route: name, rerender: render }, { args, params });
    if (seq !== renderSeq) return;
    clear(main, node);
  } catch (err) {
    if (seq !== renderSeq) return;
    renderChrome();
    const msg = err instanceof ApiError && err.offline ? t("error.offline") : (err.message || String(err));
    clear(main, h("h1", { text: t("error.title") }), notice("error", msg));
  }
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · Scellé` : "Scellé";
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
}

onSessionChange((s) => { if (!s) { state.me = null; state.tenant = null; state.membership = null; } });
onLanguageChange(() => render());
window.addEventListener("hashchange", () => render());
function showNetwork() {
  const el = document.getElementById("network");
  el.hidden = navigator.onLine;
  el.textContent = navigator.onLine ? "" : t("network.offline");
}
window.addEventListener("online", showNetwork);
window.addEventListener("offline", showNetwork);
showNetwork();
render();
