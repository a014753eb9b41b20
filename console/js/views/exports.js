// Exports (admin, accountant, auditor): request a fiscal or FEC archive, follow its progress, download
// it through its short-lived signed link, and verify it offline with scelle verify.
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { t } from "../i18n.js";
import { can } from "../roles.js";
import { bytes, errorText, forbidden, messages, newKey } from "../ui.js";

const POLL_MS = 800;
// The jobs requested in this tab (the API lists no jobs: GET needs the job id). Not secret: ids only.
const jobsKey = (tenantId) => `scelle.exports.${tenantId}`;
function savedJobs(tenantId) {
  try { return JSON.parse(sessionStorage.getItem(jobsKey(tenantId)) || "[]"); } catch { return []; }
}
function saveJob(tenantId, jobId) {
  const jobs = savedJobs(tenantId).filter((j) => j !== jobId);
  jobs.unshift(jobId);
  sessionStorage.setItem(jobsKey(tenantId), JSON.stringify(jobs.slice(0, 20)));
}

function localToday(timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

export function verifyHelp(auditor) {
  const code = (text) => h("pre", { class: "code" }, h("code", { text }));
  return h("section", { class: `card${auditor ? " emphasis" : ""}`, id: "verify-help", "aria-labelledby": "verify-title" },
    h("h2", { id: "verify-title", text: t("exports.verify_title") }),
    h("p", { text: t("exports.verify_intro") }),
    h("ol", {},
      h("li", {}, t("exports.verify_step1")),
      h("li", {}, t("exports.verify_step2"), " ",
        h("a", { href: "/v1/keys", download: "keys.json", id: "keys-link", text: t("exports.keys_link") })),
      h("li", {}, t("exports.verify_step3"), code("scelle verify --trusted-key keys.json <archive>.zip"),
        t("exports.verify_slim"), code("python3 scelle-verify.pyz --trusted-key keys.json <archive>.zip")),
      h("li", { text: t("exports.verify_step4") })),
    h("p", { class: "hint", text: t("exports.verify_guide") }));
}

function jobCard(ctx, tenantId, jobId) {
  const tz = ctx.state.tenant.time_zone;
  const card = h("article", { class: "card job", dataset: { job: jobId }, "aria-live": "polite" });
  let timer = null;
  async function poll() {
    if (!card.isConnected && timer !== null) return; // the screen was left
    let job;
    try {
      job = await api("GET", `/v1/tenants/${tenantId}/exports/${jobId}${query({ expires_in: 900 })}`);
    } catch (err) {
      card.replaceChildren(notice("error", errorText(err)));
      return;
    }
    card.dataset.status = job.status;
    const p = job.progress || { percent: 0, entries_done: 0, entries_total: null };
    const progress = h("progress", { max: 100, value: job.status === "done" ? 100 : p.percent, id: `progress-${jobId}`,
      "aria-label": t("exports.progress") });
    const parts = [
      h("h3", {}, t(`exports.format_${job.format}`), " · ", fmt.date(job.from), " – ", fmt.date(job.to),
        job.fiscal ? null : h("span", { class: "badge warn", text: t("exports.not_fiscal") })),
      h("p", { class: "status" }, h("strong", { class: "job-status", text: t(`exports.status_${job.status}`) }), " ",
        job.status === "running" || job.status === "queued"
          ? t("exports.entries", { done: fmt.number(p.entries_done, 0), total: p.entries_total === null ? "…" : fmt.number(p.entries_total, 0) })
          : ""),
      progress,
      h("p", { class: "hint", text: t("exports.requested", { by: job.requested_by === ctx.state.me.user_id ? ctx.state.me.email : job.requested_by, at: fmt.dateTime(job.requested_at, tz) }) }),
    ];
    if (job.status === "done" && job.download) {
      const d = job.download;
      parts.push(h("div", { class: "buttons" },
        h("a", { class: "button primary download", href: d.url, download: d.file_name, rel: "noopener noreferrer",
          id: `download-${jobId}`, text: t("exports.download", { file: d.file_name, size: bytes(d.bytes) }) }),
        h("button", { type: "button", class: "secondary", text: t("exports.fresh_link"), onclick: () => poll() })),
      h("dl", { class: "facts fingerprint" },
        h("dt", { text: t("exports.file") }), h("dd", { class: "file-name", text: d.file_name }),
        h("dt", { text: "SHA-256" }), h("dd", { class: "sha256", text: d.sha256 }),
        h("dt", { text: t("exports.link_until") }), h("dd", { text: fmt.dateTime(d.expires_at, tz) })));
    }
    if (job.status === "failed" && job.error) {
      parts.push(notice("error", [job.error.title, job.error.detail].filter(Boolean).join(": ")));
      (job.error.problems || []).slice(0, 10).forEach((pr) => parts.push(h("p", { class: "small", text: JSON.stringify(pr) })));
    }
    if (job.status === "expired") parts.push(notice("info", t("exports.expired")));
    card.replaceChildren(...parts);
    if (job.status === "queued" || job.status === "running") timer = setTimeout(poll, POLL_MS);
  }
  poll();
  return card;
}

export async function render(ctx) {
  if (!can(ctx.state, "export.create")) return forbidden("exports.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const auditor = ctx.state.membership.role === "auditor";
  const today = localToday(tenant.time_zone);
  const format = field(t("exports.format"), { tag: "select", id: "export-format", options: [
    h("option", { value: "fiscal", text: t("exports.format_fiscal") }),
    tenant.country === "FR" ? h("option", { value: "fec", text: t("exports.format_fec") }) : null] },
  tenant.country === "FR" ? t("exports.format_hint_fr") : t("exports.format_hint_be"));
  const from = field(t("exports.from"), { type: "date", id: "export-from", value: `${today.slice(0, 8)}01`, max: today });
  const to = field(t("exports.to"), { type: "date", id: "export-to", value: today, max: today });
  const submit = h("button", { type: "submit", class: "primary", id: "export-submit", text: t("exports.submit") });
  const out = messages();
  const jobs = h("div", { id: "export-jobs" });
  const blocked = auditor && tenant.mode === "test";
  if (blocked) submit.disabled = true;
  const form = h("form", { class: "card narrow", id: "export-form", novalidate: true },
    format, h("div", { class: "row" }, from, to),
    h("p", { class: "hint", text: t("exports.chains_hint") }),
    tenant.mode === "test" ? notice("info", blocked ? t("exports.auditor_test") : t("exports.test_note")) : null,
    submit, out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    [from, to].forEach((f) => f.setError(""));
    if (!from.input.value || !to.input.value || from.input.value > to.input.value) {
      to.setError(t("exports.period_bad"));
      return;
    }
    submit.disabled = true;
    try {
      const job = await api("POST", `/v1/tenants/${tenantId}/exports`, {
        body: { format: format.input.value, from: from.input.value, to: to.input.value },
        headers: { "Idempotency-Key": newKey("export") } });
      saveJob(tenantId, job.job_id);
      jobs.prepend(jobCard(ctx, tenantId, job.job_id));
    } catch (err) {
      const fe = (err.fieldErrors || [])[0];
      if (fe && fe.field === "from") from.setError(fe.detail);
      else if (fe && fe.field === "to") to.setError(fe.detail);
      else out.append(notice("error", errorText(err)));
    } finally {
      submit.disabled = blocked;
    }
  });
  savedJobs(tenantId).forEach((id) => jobs.append(jobCard(ctx, tenantId, id)));
  return h("section", {}, h("h1", { text: t("exports.title") }),
    h("p", { text: auditor ? t("exports.intro_auditor", { company: tenant.company_name }) : t("exports.intro") }),
    auditor ? verifyHelp(true) : null, form,
    h("h2", { text: t("exports.jobs") }), jobs, auditor ? null : verifyHelp(false));
}
