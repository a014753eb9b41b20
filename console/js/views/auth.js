// Sign-in, email verification and password reset.
import { api, ApiError, signIn } from "../api.js";
import { field, h, notice } from "../dom.js";
import { t } from "../i18n.js";
import * as ids from "../ids.js";

export async function render(ctx, { params }) {
  if (ctx.route === "verify") return verifyView(ctx, params);
  if (ctx.route === "reset") return resetView(ctx, params);
  return signinView(ctx, params);
}

function signinView(ctx, params) {
  const email = field(t("field.email"), { type: "email", name: "email", autocomplete: "username", required: true,
    value: params.get("email") || "" });
  const password = field(t("field.password"), { type: "password", name: "password", autocomplete: "current-password",
    required: true });
  const out = h("div", { class: "messages", "aria-live": "polite" });
  if (params.get("verified")) out.append(notice("ok", t("verify.done")));
  if (params.get("reset")) out.append(notice("ok", t("reset.done")));
  const submit = h("button", { type: "submit", class: "primary", text: t("signin.submit") });
  const form = h("form", { class: "card narrow", novalidate: true }, email, password, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    submit.disabled = true;
    try {
      await signIn(email.input.value.trim(), password.input.value);
      ctx.state.me = null;
      ctx.go("home");
    } catch (err) {
      if (err instanceof ApiError && err.problem.type && err.problem.type.endsWith("/email-not-verified")) {
        out.append(notice("error", t("signin.unverified")), resendButton(email.input.value.trim(), out));
      } else if (err instanceof ApiError && err.status === 429) {
        out.append(notice("error", t("signin.throttled", { seconds: err.retryAfter || "?" })));
      } else if (err instanceof ApiError && err.status === 401) {
        out.append(notice("error", t("signin.bad")));
      } else {
        out.append(notice("error", err.offline ? t("error.offline") : err.message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", {},
    h("h1", { text: t("signin.title") }), form,
    h("p", {}, h("a", { href: "#/reset", id: "forgot", text: t("signin.forgot"), onclick: (ev) => {
      ev.preventDefault();  // carries the address typed so far
      const typed = email.input.value.trim();
      ctx.go(typed ? `reset?email=${encodeURIComponent(typed)}` : "reset");
    } })),
    h("p", {}, t("signin.new"), " ", h("a", { href: "#/signup", text: t("signin.signup_link") })));
}

function resendButton(email, out) {
  return h("button", { type: "button", class: "secondary", text: t("verify.resend"), onclick: async () => {
    try {
      await api("POST", "/v1/verify-email/resend", { auth: false, body: { email } });
      out.append(notice("ok", t("verify.resent")));
    } catch (err) { out.append(notice("error", err.message)); }
  } });
}

async function verifyView(ctx, params) {
  const out = h("div", { class: "messages", "aria-live": "polite" });
  const token = field(t("verify.token"), { name: "token", autocomplete: "off", value: params.get("token") || "" },
    t("verify.token_hint"));
  const submit = h("button", { type: "submit", class: "primary", text: t("verify.submit") });
  const form = h("form", { class: "card narrow", novalidate: true }, token, submit, out);
  const email = params.get("email") || "";
  async function verify() {
    out.replaceChildren();
    try {
      const done = await api("POST", "/v1/verify-email", { auth: false, body: { token: token.input.value.trim() } });
      form.replaceWith(h("div", { class: "card narrow" }, notice("ok", t("verify.done")),
        h("a", { class: "button primary", href: `#/signin?email=${encodeURIComponent(done.email)}&verified=1`,
          text: t("verify.to_signin") })));
    } catch (err) {
      token.setError(err instanceof ApiError && err.status === 422 ? t("verify.bad_token") : err.message);
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); verify(); });
  const section = h("section", {}, h("h1", { text: t("verify.title") }),
    email ? h("p", { text: t("verify.sent_to", { email }) }) : null, form,
    email ? h("p", {}, resendButton(email, out)) : null);
  if (params.get("token")) setTimeout(verify, 0);
  return section;
}

// Password reset: 1. the address (POST /v1/password-reset mails a code, whatever the address);
// 2. the code and a new password (POST /v1/password-reset/confirm). The mail's link,
// #/reset?email=&code=, opens step 2 filled in.
function resetView(ctx, params) {
  const section = h("section", {}, h("h1", { text: t("reset.title") }));
  const emailGiven = params.get("email") || "";
  if (params.get("code")) section.append(confirmStep(ctx, emailGiven, params.get("code")));
  else section.append(requestStep(ctx, emailGiven, section));
  section.append(h("p", {}, h("a", { href: "#/signin", text: t("reset.back") })));
  return section;
}

function requestStep(ctx, emailGiven, section) {
  const email = field(t("field.email"), { type: "email", name: "email", id: "reset-email", autocomplete: "username",
    required: true, value: emailGiven }, t("reset.email_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "reset-request", text: t("reset.send") });
  const out = h("div", { class: "messages", "aria-live": "polite" });
  const form = h("form", { class: "card narrow", id: "reset-request-form", novalidate: true }, email, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    const address = email.input.value.trim();
    if (!/^[^@\s]+@[^@\s]+$/.test(address)) { email.setError(t("reset.email_bad")); email.input.focus(); return; }
    email.setError("");
    submit.disabled = true;
    try {
      await api("POST", "/v1/password-reset", { auth: false, body: { email: address } });
      const next = confirmStep(ctx, address, "");
      form.replaceWith(h("div", {}, notice("ok", t("reset.sent", { email: address })), next));
      next.querySelector("input[name=code]").focus();
    } catch (err) {
      out.append(notice("error", problemText(err)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function problemText(err) {
  if (err instanceof ApiError && err.status === 429) return t("signin.throttled", { seconds: err.retryAfter || "?" });
  return err.offline ? t("error.offline") : err.message;
}

function confirmStep(ctx, emailGiven, codeGiven) {
  const f = {
    email: field(t("field.email"), { type: "email", name: "email", id: "reset-confirm-email", autocomplete: "username",
      required: true, value: emailGiven }),
    code: field(t("reset.code"), { name: "code", id: "reset-code", autocomplete: "one-time-code", required: true,
      value: codeGiven, spellcheck: "false", autocapitalize: "characters" }, t("reset.code_hint")),
    new_password: field(t("reset.new_password"), { type: "password", name: "new_password", id: "reset-password",
      autocomplete: "new-password", required: true, minlength: 10, maxlength: 64 }, t("signup.password_hint")),
  };
  f.new_password.input.addEventListener("input", () => {
    const v = f.new_password.input.value;
    if (!v) f.new_password.setOk("");
    else if (ids.passwordOk(v)) f.new_password.setOk(t("signup.password_ok"));
    else f.new_password.setError(t("signup.password_hint"));
  });
  const submit = h("button", { type: "submit", class: "primary", id: "reset-confirm", text: t("reset.submit") });
  const out = h("div", { class: "messages", "aria-live": "polite" });
  const form = h("form", { class: "card narrow", id: "reset-confirm-form", novalidate: true },
    f.email, f.code, f.new_password, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    Object.values(f).forEach((x) => x.setError(""));
    const body = { email: f.email.input.value.trim(), code: f.code.input.value.trim(),
      new_password: f.new_password.input.value };
    if (!ids.passwordOk(body.new_password)) {
      f.new_password.setError(t("signup.password_hint")); f.new_password.input.focus(); return;
    }
    submit.disabled = true;
    try {
      await api("POST", "/v1/password-reset/confirm", { auth: false, body });
      ctx.go(`signin?email=${encodeURIComponent(body.email)}&reset=1`);
    } catch (err) {
      if (err instanceof ApiError && err.fieldErrors.length) {
        let first = null;
        for (const e of err.fieldErrors) {
          const target = f[e.field];
          const text = e.field === "code" ? t("reset.code_bad") : e.detail;
          if (target) { target.setError(text); first = first || target.input; } else out.append(notice("error", text));
        }
        if (first) first.focus();
      } else {
        out.append(notice("error", problemText(err)));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
