// Accepting an invitation or an auditor grant with the mailed token: `#/accept?token=…`. A new
// person chooses a password (an existing account signs in with its own); the display name is optional.
import { api } from "../api.js";
import { field, h, notice } from "../dom.js";
import { t } from "../i18n.js";
import { messages } from "../ui.js";

export async function render(ctx, { params }) {
  const token = field(t("verify.token"), { id: "accept-token", autocomplete: "off", value: params.get("token") || "" },
    t("verify.token_hint"));
  const existing = h("input", { type: "checkbox", id: "accept-existing" });
  const password = field(t("field.password"), { type: "password", id: "accept-password", autocomplete: "new-password" },
    t("signup.password_hint"));
  const name = field(t("admin.display_name"), { id: "accept-name", autocomplete: "name", maxlength: 200 }, t("accept.name_hint"));
  const submit = h("button", { type: "submit", class: "primary", id: "accept-submit", text: t("accept.submit") });
  const out = messages();
  existing.addEventListener("change", () => { password.hidden = existing.checked; });
  const form = h("form", { class: "card narrow", novalidate: true }, token,
    h("div", { class: "check" }, existing, h("label", { for: "accept-existing", text: t("accept.existing") })),
    password, name, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    [token, password, name].forEach((f) => f.setError(""));
    const body = { token: token.input.value.trim() };
    if (!existing.checked) body.password = password.input.value;
    if (name.input.value.trim()) body.display_name = name.input.value.trim();
    submit.disabled = true;
    try {
      const done = await api("POST", "/v1/invitations/accept", { auth: false, body });
      form.replaceWith(h("div", { class: "card narrow", id: "accepted" },
        notice("ok", t("accept.done", { role: t(`role.${done.role}`), name: done.display_name })),
        h("a", { class: "button primary", href: `#/signin?email=${encodeURIComponent(done.email)}`, text: t("verify.to_signin") })));
    } catch (err) {
      const fields = { token, password, display_name: name };
      let placed = false;
      for (const e of err.fieldErrors || []) {
        if (fields[e.field]) { fields[e.field].setError(e.detail); placed = true; }
      }
      if (!placed) out.append(notice("error", err.offline ? t("error.offline") : err.message));
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", {}, h("h1", { text: t("accept.title") }), h("p", { text: t("accept.intro") }), form);
}
