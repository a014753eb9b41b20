// Going live: test mode to production, irreversibly, after an explicit confirmation.
import { api } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";

export async function render(ctx) {
  const { tenant } = ctx.state;
  const title = h("h1", { text: t("golive.title") });
  if (!can(ctx.state, "tenant.go_live")) return h("section", {}, title, notice("error", t("error.forbidden")));
  if (tenant.mode !== "test") {
    return h("section", {}, title, notice("ok", t("golive.already", { since: tenant.production_since ? fmt.dateTime(tenant.production_since) : "" })));
  }
  const understood = h("input", { type: "checkbox", id: "golive-understood" });
  const name = field(t("golive.type_name", { name: tenant.company_name }), { id: "golive-name", autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "danger", disabled: true, text: t("golive.submit") });
  const out = h("div", { class: "messages", "aria-live": "polite" });
  const ready = () => { submit.disabled = !(understood.checked && name.input.value.trim() === tenant.company_name); };
  understood.addEventListener("change", ready);
  name.input.addEventListener("input", ready);
  const form = h("form", { class: "card narrow", novalidate: true },
    h("ul", {}, h("li", { text: t("golive.point1") }), h("li", { text: t("golive.point2") }),
      h("li", { text: t("golive.point3") })),
    h("div", { class: "check" }, understood, h("label", { for: "golive-understood", text: t("golive.understood") })),
    name, submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    submit.disabled = true;
    try {
      await api("POST", `/v1/tenants/${ctx.state.membership.tenant_id}/go-live`, { body: { confirm: true } });
      await ctx.reloadTenant();
      form.replaceWith(notice("ok", t("golive.done")));
    } catch (err) {
      out.append(notice("error", err.message));
      ready();
    }
  });
  return h("section", {}, title, h("p", { class: "warning", text: t("golive.intro") }), form);
}
