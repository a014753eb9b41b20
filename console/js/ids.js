// Belgian and French company and VAT numbers: the API's own rules
// (verifier/scelle_verify/domain/identifiers.py), so the sign-up form can check them as they are
// typed. The server checks them again; its problem+json field errors are shown as well.
// Each check returns {ok: true, value: canonical} or {ok: false, code: i18n key}.

const SEPARATORS = /[\s.\-\u2010-\u2015\u2212]+/g;

export function normalise(text) {
  return String(text || "").normalize("NFKC").replace(SEPARATORS, "").toUpperCase();
}

export function luhnValid(digits) {
  let total = 0;
  [...digits].reverse().forEach((c, i) => {
    let v = Number(c);
    if (i % 2) { v *= 2; if (v > 9) v -= 9; }
    total += v;
  });
  return total % 10 === 0;
}

const mod97 = (digits) => Number(BigInt(digits) % 97n);
export const frVatKey = (siren) => String((12 + 3 * mod97(siren)) % 97).padStart(2, "0");

const fail = (code) => ({ ok: false, code });
const pass = (value) => ({ ok: true, value });

function beDigits(text) {
  if (!/^\d+$/.test(text)) return fail("id.digits_only");
  if (text.length === 9) text = `0${text}`;
  if (text.length !== 10) return fail("id.be_length");
  if (!"01".includes(text[0])) return fail("id.be_first");
  if (Number(text.slice(8)) !== 97 - (Number(text.slice(0, 8)) % 97)) return fail("id.check_digits");
  return pass(text);
}

const beNormalise = (v) => normalise(v).replace(/^(BE)?\(0\)(?=\d)/, (m, be) => `${be || ""}0`);

export function beCompanyNumber(value) {
  let t = beNormalise(value);
  if (!t) return fail("id.empty");
  if (t.startsWith("BE")) t = t.slice(2);
  return beDigits(t);
}

export function beVatNumber(value) {
  let t = beNormalise(value);
  if (!t) return fail("id.empty");
  if (t.startsWith("BE")) t = t.slice(2);
  else if (/^[A-Z]{2}/.test(t)) return fail("id.be_prefix");
  const r = beDigits(t);
  return r.ok ? pass(`BE${r.value}`) : r;
}

const isMonaco = (d) => /^000\d{6}$/.test(d) && d !== "000000000";

function sirenDigits(t) {
  if (!/^\d+$/.test(t)) return fail("id.digits_only");
  if (t.length !== 9) return fail("id.siren_length");
  if (!luhnValid(t)) return fail("id.luhn");
  return pass(t);
}

export function frCompanyNumber(value) {
  const t = normalise(value);
  if (!t) return fail("id.empty");
  if (t.length === 14) {
    if (!/^\d+$/.test(t)) return fail("id.digits_only");
    const siren = sirenDigits(t.slice(0, 9));
    if (!siren.ok) return siren;
    const laPoste = t.startsWith("356000000") && [...t].reduce((a, c) => a + Number(c), 0) % 5 === 0;
    if (!laPoste && !luhnValid(t)) return fail("id.check_digits");
    return pass(t.slice(0, 9));
  }
  if (t.startsWith("000")) {
    if (!/^\d{9}$/.test(t)) return fail("id.siren_length");
    return isMonaco(t) ? pass(t) : fail("id.all_zero");
  }
  return sirenDigits(t);
}

export function frVatNumber(value) {
  let t = normalise(value);
  if (!t) return fail("id.empty");
  if (t.startsWith("FR")) t = t.slice(2);
  else if (/^[A-Z]{2}/.test(t)) return fail("id.fr_prefix");
  if (t.length !== 11) return fail("id.fr_vat_length");
  const key = t.slice(0, 2);
  const siren = t.slice(2);
  if (!/^\d{2}$/.test(key)) return fail("id.fr_alpha_key");
  if (!/^\d{9}$/.test(siren)) return fail("id.digits_only");
  if (!isMonaco(siren)) {
    const s = sirenDigits(siren);
    if (!s.ok) return s;
  }
  if (key !== frVatKey(siren)) return fail("id.check_digits");
  return pass(`FR${key}${siren}`);
}

export function companyNumber(country, value) {
  return country === "BE" ? beCompanyNumber(value) : frCompanyNumber(value);
}
export function vatNumber(country, value) {
  return country === "BE" ? beVatNumber(value) : frVatNumber(value);
}
// Both numbers as POST /v1/checks/company and sign-up check them (null: not given): per field null,
// {ok: true, value} or {ok: false, code}; when both are valid, a VAT number of another company is a
// problem on the VAT number. tests/browser/test_company_numbers.py runs every case of
// tests/vectors/company-numbers.json (the server's own vectors) through this function.
export function checkNumbers(country, company, vat) {
  const given = (v) => v !== null && v !== undefined && String(v).trim() !== "";
  const c = given(company) ? companyNumber(country, company) : null;
  let v = given(vat) ? vatNumber(country, vat) : null;
  if (c && c.ok && v && v.ok && !vatMatches(country, vat, company)) v = fail("id.vat_mismatch");
  return { company_number: c, vat_number: v };
}

// Both valid and the VAT number belongs to the company.
export function vatMatches(country, vat, company) {
  const v = vatNumber(country, vat);
  const c = companyNumber(country, company);
  if (!v.ok || !c.ok) return null;
  return country === "BE" ? v.value.slice(2) === c.value : v.value.slice(4) === c.value;
}
export function postalCodeOk(country, code) {
  return (country === "BE" ? /^\d{4}$/ : /^\d{5}$/).test(String(code || "").trim());
}
// 10 to 64 characters, an upper-case letter, a lower-case letter and a digit, no space at either end.
export function passwordOk(pw) {
  return typeof pw === "string" && pw.length >= 10 && pw.length <= 64 && /[A-Z]/.test(pw) && /[a-z]/.test(pw)
    && /\d/.test(pw) && pw === pw.trim();
}
