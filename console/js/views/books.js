// The books (accountant, admin; the auditor reads): journal entries, entries and reversals, chains
// and checkpoints, the event journal, anomalies. One menu entry; these tabs between the screens.
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";

// route, label key, shown when
export const BOOKS = [
  ["journal", "books.journal", (s) => can(s, "journal.record")],
  ["entries", "books.entries", (s) => can(s, "entry.reverse") || can(s, "ledger.read")],
  ["chains", "books.chains", (s) => can(s, "ledger.read")],
  ["events", "books.events", (s) => can(s, "events.read")],
  ["anomalies", "books.anomalies", (s) => can(s, "anomalies.read")],
];

export function firstBook(state) {
  const found = BOOKS.find(([, , shown]) => shown(state));
  return found ? found[0] : null;
}

export function tabs(state, current) {
  return h("nav", { class: "tabs no-print", "aria-label": t("nav.books") },
    BOOKS.filter(([, , shown]) => shown(state)).map(([route, key]) => h("a", {
      href: `#/${route}`, text: t(key), "aria-current": route === current ? "page" : null })));
}
