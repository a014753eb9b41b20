// French, Dutch and English: chosen from the browser, switchable, remembered on this device.
import en from "../i18n/en.js";
import fr from "../i18n/fr.js";
import nl from "../i18n/nl.js";

export const LANGUAGES = { fr: "Français", nl: "Nederlands", en: "English" };
const CATALOGUES = { fr, nl, en };
const LANG_KEY = "scelle.lang"; // a preference, not a secret: localStorage is fine
const listeners = new Set();
let country = "BE";

function fromBrowser() {
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (base in CATALOGUES) return base;
  }
  return "en";
}

let lang = (() => {
  const saved = localStorage.getItem(LANG_KEY);
  return saved in CATALOGUES ? saved : fromBrowser();
})();

export function language() { return lang; }
export function setLanguage(next) {
  if (!(next in CATALOGUES) || next === lang) return;
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  document.documentElement.lang = next;
  listeners.forEach((fn) => fn(next));
}
export function onLanguageChange(fn) { listeners.add(fn); }
export function setCountry(c) { country = c === "FR" ? "FR" : "BE"; }
// The locale of amounts and dates: the language, in the tenant's country.
export function locale() {
  if (lang === "en") return "en-GB";
  if (lang === "nl") return "nl-BE";
  return country === "FR" ? "fr-FR" : "fr-BE";
}

export function t(key, params = {}) {
  const text = CATALOGUES[lang][key] ?? CATALOGUES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

document.documentElement.lang = lang;
