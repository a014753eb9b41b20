// Exports (admin, accountant, auditor): request a fiscal or FEC archive, follow its progress, download
// it through its short-lived signed link, and verify it offline with scelle verify.
import { api, query } from "../api.js";
import { field, h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { language, t } from "../i18n.js";
import { can } from "../roles.js";
import { bytes, errorText, forbidden, messages, newKey } from "../ui.js";
import { verifyDownload } from "./verify.js";

const POLL_MS = 800;
const PAGE = 10;  // jobs per page of GET /exports (newest first)

// The slim verifier, its SHA-256 (computed when it was built) and the auditor guides, served beside
// the console (chalicelib/local/downloads.py; on AWS the console bucket's console/downloads/).
const DOWNLOADS = "/console/downloads/";
const VERIFIER = "scelle-verify.pyz";
const GUIDES = { fr: "auditor-guide.fr.md", en: "auditor-guide.en.md" };
let archiveName = "export.zip";  // the commands name the newest archive this screen gave a link to

function showArchive(name) {
  archiveName = name;
  document.querySelectorAll("#verify-help .archive-name").forEach((el) => { el.textContent = name; });
}

export function verifyHelp(auditor) {
  // focusable: a long archive name scrolls the block sideways, reachable with the keyboard
  const code = (...parts) => h("pre", { class: "code", tabindex: "0" }, h("code", {}, ...parts));
  const archive = () => h("span", { class: "archive-name", text: archiveName });
  const guideLang = language() === "fr" ? "fr" : "en";  // no Dutch guide: English for nl
  const sha = h("code", { class: "sha256", id: "verifier-sha256", text: "…" });
  fetch(`${DOWNLOADS}${VERIFIER}.sha256`, { cache: "no-store" })
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((text) => { sha.textContent = text.split(/\s+/)[0]; })
    .catch(() => { sha.textContent = t("exports.verifier_sha_missing"); });
  return h("section", { class: `card${auditor ? " emphasis" : ""}`, id: "verify-help", "aria-labelledby": "verify-title" },
    h("h2", { id: "verify-title", text: t("exports.verify_title") }),
    h("p", { text: t("exports.verify_intro") }),
    h("ol", {},
      h("li", {}, t("exports.verify_step1")),
      h("li", {}, t("exports.verify_step2"), " ",
        h("a", { href: "/v1/keys", download: "keys.json", id: "keys-link", text: t("exports.keys_link") })),
      h("li", {}, t("exports.verify_step3"), code("scelle verify --trusted-key keys.json ", archive()),
        t("exports.verify_slim"), " ",
        h("a", { href: DOWNLOADS + VERIFIER, download: VERIFIER, id: "verifier-link", text: VERIFIER }),
        h("p", { class: "small" }, t("exports.verifier_sha"), " ", sha),
        code("python3 scelle-verify.pyz --trusted-key keys.json ", archive())),
      h("li", { text: t("exports.verify_step4") })),
    h("p", { class: "hint" }, t("exports.verify_guide"), " ",
      h("a", { href: DOWNLOADS + GUIDES[guideLang], download: GUIDES[guideLang], hreflang: guideLang, id: "guide-link",
        text: t("exports.guide_link") })));
}

// A job's card, from its view (the list's, without a download link, or GET of the job's). A job
// queued or running is followed (GET of the job) until it ends; a done one gets its short-lived
// link on request (each link issued is journaled: the list issues none).
function jobCard(ctx, tenantId, listed) {
  const tz = ctx.state.tenant.time_zone;
  const jobId = listed.job_id;
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
    show(job);
  }
  function show(job) {
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
      h("p", { class: "hint", text: t("exports.requested", { by: job.requested_by === ctx.state.me.user_id ? ctx.state.me.email : job.requested_by_name || job.requested_by, at: fmt.dateTime(job.requested_at, tz) }) }),
    ];
    if (job.status === "done" && job.download) {
      const d = job.download;
      showArchive(d.file_name);
      parts.push(h("div", { class: "buttons" },
        h("a", { class: "button primary download", href: d.url, download: d.file_name, rel: "noopener noreferrer",
          id: `download-${jobId}`, text: t("exports.download", { file: d.file_name, size: bytes(d.bytes) }) }),
        h("button", { type: "button", class: "secondary", text: t("exports.fresh_link"), onclick: () => poll() }),
        h("button", { type: "button", class: "secondary verify-here", id: `verify-here-${jobId}`, text: t("verifyexport.verify_here"),
          onclick: () => verifyDownload(card, jobId, d) })),
      h("dl", { class: "facts fingerprint" },
        h("dt", { text: t("exports.file") }), h("dd", { class: "file-name", text: d.file_name }),
        h("dt", { text: "SHA-256" }), h("dd", { class: "sha256", text: d.sha256 }),
        h("dt", { text: t("exports.link_until") }), h("dd", { text: fmt.dateTime(d.expires_at, tz) })));
    } else if (job.status === "done") {
      parts.push(h("div", { class: "buttons" },
        h("button", { type: "button", class: "secondary get-link", id: `get-link-${jobId}`, text: t("exports.get_link"),
          onclick: (ev) => { ev.currentTarget.disabled = true; poll(); } })));
    }
    if (job.status === "failed" && job.error) {
      parts.push(notice("error", [job.error.title, job.error.detail].filter(Boolean).join(": ")));
      (job.error.problems || []).slice(0, 10).forEach((pr) => parts.push(h("p", { class: "small", text: JSON.stringify(pr) })));
    }
    if (job.status === "expired") parts.push(notice("info", t("exports.expired")));
    card.replaceChildren(...parts);
    if (job.status === "queued" || job.status === "running") timer = setTimeout(poll, POLL_MS);
  }
  show(listed);
  return card;
}

// One page of the company's jobs (GET /exports, newest first) appended to `jobs`, and a "more"
// button while there are older ones.
async function loadJobs(ctx, tenantId, jobs, more, cursor) {
  const page = await api("GET", `/v1/tenants/${tenantId}/exports${query({ limit: PAGE, cursor })}`);
  page.jobs.forEach((job) => { if (!jobs.querySelector(`[data-job="${job.job_id}"]`)) jobs.append(jobCard(ctx, tenantId, job)); });
  if (!page.jobs.length && !jobs.children.length) jobs.append(h("p", { class: "hint", id: "no-jobs", text: t("exports.no_jobs") }));
  more.hidden = !page.next_cursor;
  more.onclick = page.next_cursor ? async () => {
    more.disabled = true;
    try { await loadJobs(ctx, tenantId, jobs, more, page.next_cursor); } finally { more.disabled = false; }
  } : null;
}

export async function render(ctx) {
  if (!can(ctx.state, "export.create")) return forbidden("exports.title");
  const tenantId = ctx.state.membership.tenant_id;
  const tenant = ctx.state.tenant;
  const auditor = ctx.state.membership.role === "auditor";
  const today = fmt.businessDate(new Date(), tenant.time_zone, tenant.business_day_cutoff);
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
      const known = jobs.querySelector(`[data-job="${job.job_id}"]`);
      if (known) known.remove();
      const none = jobs.querySelector("#no-jobs");
      if (none) none.remove();
      const card = jobCard(ctx, tenantId, job);
      jobs.prepend(card);
      if (job.status === "done") card.querySelector(".get-link").click();
    } catch (err) {
      const fe = (err.fieldErrors || [])[0];
      if (fe && fe.field === "from") from.setError(fe.detail);
      else if (fe && fe.field === "to") to.setError(fe.detail);
      else out.append(notice("error", errorText(err)));
    } finally {
      submit.disabled = blocked;
    }
  });
  const more = h("button", { type: "button", class: "secondary", id: "export-more", text: t("exports.more"), hidden: true });
  const listError = messages();
  if (!blocked) {
    try { await loadJobs(ctx, tenantId, jobs, more, undefined); } catch (err) { listError.append(notice("error", errorText(err))); }
  }
  return h("section", {}, h("h1", { text: t("exports.title") }),
    h("p", { text: auditor ? t("exports.intro_auditor", { company: tenant.company_name }) : t("exports.intro") }),
    auditor ? verifyHelp(true) : null, form,
    h("h2", { text: t("exports.jobs") }), listError, jobs, more, auditor ? null : verifyHelp(false));
}
