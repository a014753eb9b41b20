// Chains (accountant, admin, auditor): each chain verified now from the stored data (POST
// verifications), its signed checkpoints, and a checkpoint signed on demand.
import { api, query } from "../api.js";
import { h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { errorText, forbidden, table } from "../ui.js";
import { tabs } from "./books.js";

export async function render(ctx) {
  if (!can(ctx.state, "ledger.read")) return forbidden("chains.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const listed = await api("GET", `/v1/tenants/${tenantId}/chains`);
  const names = listed.chains.slice().sort();
  const detail = h("div", { id: "chain-detail" });
  const head = [tabs(ctx.state, "chains"), h("h1", { text: t("chains.title") }), h("p", { text: t("chains.intro") })];
  if (!names.length) return h("section", {}, head, notice("info", t("entries.no_chain")));

  async function verify(chain, cell) {
    cell.replaceChildren(t("chains.verifying"));
    cell.dataset.status = "pending";
    try {
      const r = await api("POST", `/v1/tenants/${tenantId}/verifications`, { body: { chain } });
      cell.dataset.status = r.ok ? "ok" : "failed";
      cell.replaceChildren(h("span", { class: `badge ${r.ok ? "ok" : "bad"}`, text: r.ok ? t("chains.ok") : t("chains.failed") }),
        " ", r.ok ? t("chains.ok_detail", { size: r.verified_size, proven: r.proven_size })
          : t("chains.failed_detail", { seq: r.first_bad_seq ?? "?", reason: r.reason, detail: r.detail }));
    } catch (err) {
      cell.dataset.status = "error";
      cell.replaceChildren(h("span", { class: "error-text", text: errorText(err) }));
    }
  }

  async function showCheckpoints(chain) {
    detail.replaceChildren(h("p", { text: t("chains.loading") }));
    const out = h("div", { "aria-live": "polite" });
    let cps = [];
    try {
      cps = (await api("GET", `/v1/tenants/${tenantId}/checkpoints${query({ chain })}`)).checkpoints;
    } catch (err) {
      detail.replaceChildren(notice("error", errorText(err)));
      return;
    }
    const sign = can(ctx.state, "checkpoint.sign") && chain !== "events" ? h("button", { type: "button", class: "secondary",
      id: "sign-checkpoint", text: t("zreport.sign_now"), onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api("POST", `/v1/tenants/${tenantId}/checkpoints`, { body: { chain } });
          await showCheckpoints(chain);
        } catch (err) { out.replaceChildren(notice("error", errorText(err))); ev.target.disabled = false; }
      } }) : null;
    const rows = cps.slice().reverse().slice(0, 50).map((c) => h("tr", {},
      h("td", { class: "num", text: String(c.size) }), h("td", { text: fmt.dateTime(c.timestamp, tenant.time_zone) }),
      h("td", { class: "mono", text: c.root }), h("td", { class: "mono", text: c.key_id })));
    detail.replaceChildren(h("section", { class: "card", "aria-labelledby": "cp-title" },
      h("h2", { id: "cp-title", tabindex: "-1", text: t("chains.checkpoints_of", { chain }) }),
      cps.length ? h("div", { class: "scroll" }, table(t("chains.checkpoints_of", { chain }), [{ text: t("zreport.size"), num: true },
        t("chains.signed_at"), t("chains.root"), t("chains.key")], rows, { id: "checkpoints" }))
        : h("p", { text: t("chains.no_checkpoint") }),
      h("div", { class: "buttons" }, sign), out));
    detail.querySelector("h2").focus();
  }

  const rows = names.map((chain) => {
    const status = h("td", { class: "verify-status", dataset: { chain } });
    const row = h("tr", { dataset: { chain } },
      h("th", { scope: "row", class: "mono", text: chain }),
      h("td", { text: chain === "events" ? t("chains.kind_events") : chain.includes(".journal") ? t("chains.kind_journal")
        : t("chains.kind_sales") }),
      status,
      h("td", {}, h("div", { class: "buttons" },
        h("button", { type: "button", class: "secondary", text: t("chains.verify"), "aria-label": t("chains.verify_n", { chain }),
          onclick: () => verify(chain, status) }),
        h("button", { type: "button", class: "link", text: t("chains.checkpoints"), "aria-label": t("chains.checkpoints_of", { chain }),
          onclick: () => showCheckpoints(chain) }))));
    row.status = status;
    return row;
  });
  const section = h("section", {}, head, h("div", { class: "card scroll" }, table(t("chains.title"),
    [t("entries.chain"), t("chains.kind"), t("chains.status"), ""], rows, { id: "chains" })), detail);
  (async () => {
    for (const row of rows) await verify(row.dataset.chain, row.status);
    section.dataset.ready = "1";
  })();
  return section;
}
