// Amounts, quantities and dates: typed in the user's way (a decimal comma is fine), sent to the
// API in its own (a string with a dot), shown in the user's locale.
import { locale } from "./i18n.js";

const SPACES = /[\s\u00a0\u202f']/g;

// "12,50", "12.5", "1 234,50", "1.234,50" -> "12.50" / "1234.50"; null when it is no amount.
// `decimals`: 2 for money, 3 for quantities. `signed`: a leading minus is allowed.
export function parseDecimal(text, { decimals = 2, signed = false } = {}) {
  if (text === null || text === undefined) return null;
  let s = String(text).replace(SPACES, "").replace("\u2212", "-");
  if (!s) return null;
  let sign = "";
  if (s[0] === "-") {
    if (!signed) return null;
    sign = "-";
    s = s.slice(1);
  }
  const lastComma = s.lastIndexOf(",");
  const lastDot = s.lastIndexOf(".");
  const point = Math.max(lastComma, lastDot);
  let intPart = s;
  let frac = "";
  if (point >= 0) {
    const sepCount = (s.match(/[.,]/g) || []).length;
    const tail = s.slice(point + 1);
    if (sepCount > 1 || (tail.length === 3 && decimals < 3 && lastComma >= 0 && lastDot >= 0)) {
      // thousands separators before the decimal mark: "1.234,50", "1,234.50"
      intPart = s.slice(0, point).replace(/[.,]/g, "");
      frac = tail;
    } else {
      intPart = s.slice(0, point);
      frac = tail;
    }
  }
  if (!/^\d+$/.test(intPart || "0") || !/^\d*$/.test(frac) || frac.length > decimals) return null;
  intPart = (intPart || "0").replace(/^0+(?=\d)/, "");
  return sign + intPart + (frac ? `.${frac}` : "");
}

export const parseAmount = (text, opts = {}) => parseDecimal(text, { decimals: 2, ...opts });
export const parseQuantity = (text) => parseDecimal(text, { decimals: 3, signed: true });

// "12.5" -> 1250 (integer cents; exact, no float arithmetic on the digits)
export function toCents(decimal) {
  const neg = decimal.startsWith("-");
  const [i, f = ""] = decimal.replace("-", "").split(".");
  const cents = Number(i) * 100 + Number((f + "00").slice(0, 2));
  return neg ? -cents : cents;
}
export function toThousandths(decimal) {
  const neg = decimal.startsWith("-");
  const [i, f = ""] = decimal.replace("-", "").split(".");
  const v = Number(i) * 1000 + Number((f + "000").slice(0, 3));
  return neg ? -v : v;
}
// 1250 -> "12.50" (the API's form)
export function centsToDecimal(cents) {
  const neg = cents < 0;
  const a = Math.abs(cents);
  return `${neg ? "-" : ""}${Math.floor(a / 100)}.${String(a % 100).padStart(2, "0")}`;
}
// half-up, ties away from zero (docs/entry-types.md §2)
export function roundDiv(numerator, denominator) {
  const sign = Math.sign(numerator) * Math.sign(denominator);
  const q = Math.floor((Math.abs(numerator) * 2 + Math.abs(denominator)) / (Math.abs(denominator) * 2));
  return sign * q;
}

export function money(cents) {
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "EUR" }).format(cents / 100);
}
// An amount for an input field, in the user's way ("12,50" in French and Dutch)
export function amountInput(cents) {
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false })
    .format(cents / 100);
}
export function number(value, digits = 3) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}
export function percent(basisPoints) {
  return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(basisPoints / 100)} %`;
}
export function dateTime(iso, timeZone) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
}
export function time(iso, timeZone) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale(), { timeStyle: "short", timeZone }).format(new Date(iso));
}
export function date(isoDate) {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "long", timeZone: "UTC" }).format(Date.UTC(y, m - 1, d));
}

// The tenant's business date of an instant (its time zone and day cut-off), as YYYY-MM-DD: the
// day whose VAT rates apply to a sale and which a day closure covers.
export function businessDate(instant, timeZone, cutoff) {
  // The local date, or the day before while the local clock is before the cut-off (a wall-clock
  // comparison, as the server's business_day_of: right on a daylight-saving change too).
  const [hh, mm] = String(cutoff || "04:00").split(":").map(Number);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(instant).map((p) => [p.type, p.value]));
  const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day));
  const started = Number(parts.hour) * 60 + Number(parts.minute) >= hh * 60 + mm;
  return new Date(started ? local : local - 86_400_000).toISOString().slice(0, 10);
}
