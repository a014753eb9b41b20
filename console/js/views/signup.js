// Sign-up: a company (tenant, in test mode) and its first admin, with live checks of the company
// and VAT numbers (the API's own rules, js/ids.js) and the server's field errors.
import { api, ApiError } from "../api.js";
import { field, h, notice } from "../dom.js";
import { t } from "../i18n.js";
import * as ids from "../ids.js";

export async function render(ctx) {
  const f = {
    company_name: field(t("signup.company_name"), { name: "company_name", required: true, maxlength: 200,
      autocomplete: "organization" }),
    country: field(t("signup.country"), { tag: "select", name: "country", options: [
      h("option", { value: "BE", text: t("country.BE") }), h("option", { value: "FR", text: t("country.FR") })] }),
    company_number: field(t("signup.company_number"), { name: "company_number", required: true, autocomplete: "off",
      inputmode: "text" }, t("signup.company_number_hint_BE")),
    vat_number: field(t("signup.vat_number"), { name: "vat_number", required: true, autocomplete: "off" },
      t("signup.vat_number_hint_BE")),
    "address.line1": field(t("signup.line1"), { name: "line1", required: true, autocomplete: "address-line1" }),
    "address.postal_code": field(t("signup.postal_code"), { name: "postal_code", required: true,
      autocomplete: "postal-code", inputmode: "numeric" }),
    "address.city": field(t("signup.city"), { name: "city", required: true, autocomplete: "address-level2" }),
    display_name: field(t("signup.display_name"), { name: "display_name", maxlength: 100, autocomplete: "name" },
      t("signup.display_name_hint")),
    email: field(t("field.email"), { type: "email", name: "email", required: true, autocomplete: "email" }),
    password: field(t("field.password"), { type: "password", name: "password", required: true,
      autocomplete: "new-password", minlength: 10, maxlength: 64 }, t("signup.password_hint")),
  };
  const country = () => f.country.input.value;

  // The checks of POST /v1/checks/company, as typed (js/ids.js; the server's vectors test them).
  function checkNumbers() {
    const r = ids.checkNumbers(country(), f.company_number.input.value, f.vat_number.input.value);
    [["company_number", r.company_number], ["vat_number", r.vat_number]].forEach(([name, res]) => {
      if (!res) f[name].setOk("");
      else if (res.ok) f[name].setOk(t("id.valid", { value: res.value }));
      else f[name].setError(t(res.code));
    });
    return Boolean(r.company_number && r.company_number.ok && r.vat_number && r.vat_number.ok);
  }
  function checkPostal() {
    const v = f["address.postal_code"].input.value;
    if (!v.trim()) return false;
    const ok = ids.postalCodeOk(country(), v);
    if (ok) f["address.postal_code"].setOk("");
    else f["address.postal_code"].setError(t(`signup.postal_${country()}`));
    return ok;
  }
  function checkPassword() {
    const v = f.password.input.value;
    if (!v) return false;
    const ok = ids.passwordOk(v);
    if (ok) f.password.setOk(t("signup.password_ok"));
    else f.password.setError(t("signup.password_hint"));
    return ok;
  }
  f.company_number.input.addEventListener("input", checkNumbers);
  f.vat_number.input.addEventListener("input", checkNumbers);
  f["address.postal_code"].input.addEventListener("input", checkPostal);
  f.password.input.addEventListener("input", checkPassword);
  f.country.input.addEventListener("change", () => {
    f.company_number.querySelector(".hint").textContent = t(`signup.company_number_hint_${country()}`);
    f.vat_number.querySelector(".hint").textContent = t(`signup.vat_number_hint_${country()}`);
    checkNumbers(); checkPostal();
  });

  const out = h("div", { class: "messages", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary", text: t("signup.submit") });
  const form = h("form", { class: "card", novalidate: true },
    h("fieldset", {}, h("legend", { text: t("signup.company") }),
      f.company_name, f.country, f.company_number, f.vat_number,
      f["address.line1"], h("div", { class: "row" }, f["address.postal_code"], f["address.city"])),
    h("fieldset", {}, h("legend", { text: t("signup.admin") }), f.display_name, f.email, f.password),
    h("p", { class: "hint", text: t("signup.testmode") }), submit, out);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    Object.values(f).forEach((x) => x.setError(""));
    const body = {
      email: f.email.input.value.trim(), password: f.password.input.value,
      company_name: f.company_name.input.value.trim(), country: country(),
      company_number: f.company_number.input.value.trim(), vat_number: f.vat_number.input.value.trim(),
      address: { line1: f["address.line1"].input.value.trim(), postal_code: f["address.postal_code"].input.value.trim(),
        city: f["address.city"].input.value.trim() },
    };
    const name = f.display_name.input.value.trim();
    if (name) body.display_name = name;
    submit.disabled = true;
    try {
      const done = await api("POST", "/v1/signup", { auth: false, body });
      ctx.go(`verify?email=${encodeURIComponent(done.email)}`);
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) {
        let first = null;
        for (const e of err.fieldErrors) {
          const target = f[e.field] || f[String(e.field).split(".")[0]];
          if (target) { target.setError(e.detail); first = first || target.input; }
          else out.append(notice("error", `${e.field}: ${e.detail}`));
        }
        out.prepend(notice("error", t("signup.fix_errors", { count: err.fieldErrors.length })));
        if (first) first.focus();
      } else {
        out.append(notice("error", err.offline ? t("error.offline") : err.message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", {}, h("h1", { text: t("signup.title") }), form,
    h("p", {}, t("signup.have_account"), " ", h("a", { href: "#/signin", text: t("nav.signin") })));
}
