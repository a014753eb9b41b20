// "Verify an export": the seal of a Scellé export archive checked here, in the browser (js/verify/,
// in a Worker): from a file chosen or dropped, or from a finished export job (exports.js, "Verify
// here"). Public: an auditor may have only the file. The full check (every CSV row and the FEC
// rebuilt from the records) stays `scelle verify`'s: the screen says so.
import { api } from "../api.js";
import { h, notice } from "../dom.js";
import * as fmt from "../format.js";
import { language, t } from "../i18n.js";
import { anchor, anchorTo } from "../verify/archive.js";
import { runVerifier } from "../verify/run.js";
import { readTrustedKeys, TrustError } from "../verify/trust.js";
import { openZip, readMember } from "../verify/zip.js";

const REASONS = new Set(["unreadable", "duplicate_member", "file_missing", "file_added", "sha256_mismatch",
  "manifest_unreadable", "not_scelle", "manifest_malformed", "bad_version", "keys_unreadable", "key_id_mismatch",
  "key_not_valid", "bad_signature", "checkpoints_unreadable", "wrong_chain", "checkpoint_inconsistent",
  "manifest_mismatch", "not_signed", "chain_unlisted", "truncated", "non_canonical", "duplicate", "gap", "withheld",
  "hash_mismatch", "bad_genesis", "broken_link", "checkpoint_mismatch", "cosignatures_unreadable",
  "cosignature_mismatch", "key_not_trusted"]);

function reasonTitle(reason) {
  return REASONS.has(reason) ? t(`verifyexport.reason_${reason}`) : reason;
}

/** Where a problem is, in one line: file, line, chain and seq. */
function where(p) {
  return [p.file, p.line ? t("verifyexport.at_line", { line: p.line }) : null,
    p.chain ? (p.seq ? t("verifyexport.at_seq", { chain: p.chain, seq: p.seq }) : p.chain) : null].filter(Boolean).join(" · ");
}

function problemFacts(p) {
  const rows = [[t("verifyexport.where"), where(p)], [t("verifyexport.expected"), p.expected], [t("verifyexport.found"), p.found],
    [t("verifyexport.detail"), p.detail]].filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("dl", { class: "facts problem" }, rows.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })]));
}

function verdictBox(status, title, ...body) {
  return h("div", { class: `verdict ${status}`, id: "vx-verdict", dataset: { status } },
    h("p", { class: "verdict-title", text: title }), body);
}

/** A verifier panel: its node, and run(blob, name) which verifies and shows the result. */
export function verifierPanel(idSuffix = "") {
  const progress = h("progress", { max: 100, value: 0, id: `vx-bar${idSuffix}`, "aria-label": t("verifyexport.progress_label") });
  const status = h("p", { class: "vx-status", id: `vx-status${idSuffix}`, role: "status", "aria-live": "polite" });
  const result = h("div", { class: "vx-result", id: `vx-result${idSuffix}`, "aria-live": "polite" });
  const busy = h("div", { class: "vx-busy", hidden: true }, progress);
  const node = h("section", { class: "card vx-panel", "aria-label": t("verifyexport.result_label") }, status, busy, result);
  let current = 0;

  async function run(blob, name) {
    const mine = ++current;
    result.replaceChildren();
    busy.hidden = false;
    progress.removeAttribute("value");
    status.textContent = t("verifyexport.reading", { file: name || "" });
    node.setAttribute("aria-busy", "true");
    let out;
    try {
      out = await runVerifier(blob, (p) => {
        if (mine !== current || !p.total) return;
        progress.max = p.total;
        progress.value = p.records;
        status.textContent = t("verifyexport.progress", { done: fmt.number(p.records, 0), total: fmt.number(p.total, 0) });
      });
    } catch (err) {
      if (mine !== current) return;
      busy.hidden = true;
      node.removeAttribute("aria-busy");
      status.textContent = "";
      result.replaceChildren(notice("error", t("verifyexport.run_failed", { error: err.message || String(err) })));
      return;
    }
    if (mine !== current) return;
    busy.hidden = true;
    node.removeAttribute("aria-busy");
    status.textContent = out.status === "invalid" ? "" : t("verifyexport.done", { done: fmt.number(out.records, 0), total: fmt.number(out.totalRecords, 0) });
    result.replaceChildren(...resultNodes(out, blob));
  }
  return { node, run };
}

// Dates as the archive states them, formatted when well-formed (a forged manifest's text is shown as it is)
function archiveDate(text) {
  return typeof text === "string" && /^\d{4}-\d{2}-\d{2}$/.test(text) ? fmt.date(text) : String(text ?? "");
}
function archiveInstant(text) {
  return typeof text === "string" && !Number.isNaN(Date.parse(text)) ? fmt.dateTime(text) : String(text ?? "");
}

function resultNodes(out, blob) {
  const nodes = [];
  const verdict = h("div", { class: "vx-verdict-slot" });
  nodes.push(verdict);
  if (out.status === "invalid") {
    verdict.append(verdictBox("invalid", t("verifyexport.status_invalid"), h("p", { text: t("verifyexport.msg_invalid") }), problemFacts(out.problems[0])));
    return nodes;
  }
  const s = out.summary;
  // the archive's kind and dates in the reader's language (a kind this console does not know, as written)
  const kind = ["fiscal", "fec"].includes(s.kind) ? t(`exports.format_${s.kind}`) : s.kind || "";
  nodes.push(h("p", { class: "vx-summary", text: t("verifyexport.summary", {
    company: s.company_name || "", tenant: s.tenant_id, kind, from: archiveDate(s.first_day), to: archiveDate(s.last_day),
    at: archiveInstant(s.generated_at) }) }));
  if (!s.fiscal) nodes.push(notice("info", t("verifyexport.not_fiscal")));
  if (out.status === "failed") {
    const first = out.problems[0];
    verdict.append(verdictBox("tampered", t("verifyexport.status_tampered"),
      h("p", { class: "vx-first", text: t("verifyexport.msg_tampered", { count: out.problems.length + (out.more || 0), reason: reasonTitle(first.reason) }) }),
      problemFacts(first)));
    if (out.problems.length > 1) {
      nodes.push(h("details", { class: "vx-problems" }, h("summary", { text: t("verifyexport.all_problems", { count: out.problems.length + (out.more || 0) }) }),
        h("ol", {}, out.problems.map((p) => h("li", {}, h("strong", { text: reasonTitle(p.reason) }), problemFacts(p))))));
    }
  } else {
    const anchorOut = h("div", { class: "vx-anchor", id: "vx-anchor-result", "aria-live": "polite" });
    const button = h("button", { type: "button", class: "primary", id: "vx-anchor", text: t("verifyexport.anchor") });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const published = await api("GET", "/v1/keys", { auth: false });
        const a = await anchor(out, published);
        anchored(verdict, anchorOut, a);
      } catch (err) {
        anchorOut.replaceChildren(notice("error", t("verifyexport.anchor_failed", { error: err.message || String(err) })));
        button.disabled = false;
      }
    });
    verdict.append(verdictBox("unanchored", t("verifyexport.status_unanchored"), h("p", { text: t("verifyexport.msg_unanchored") })));
    nodes.push(h("div", { class: "card emphasis" }, h("p", { text: t("verifyexport.anchor_hint") }), button, anchorOut),
      trustCard(out, verdict));
  }
  nodes.push(chainsTable(out), keysList(out), scopeNote(), guideLink(blob));
  return nodes;
}

// The verdict once compared: with this platform's keys (mine null) or with keys the user gave
// (mine: {kind, source}, the trusted entry each signing key matched named).
function anchored(verdict, slot, a, mine = null) {
  if (a.anchored) {
    verdict.replaceChildren(verdictBox("verified", t("verifyexport.status_verified"),
      h("p", { text: mine ? t("verifyexport.msg_verified_mine") : t("verifyexport.msg_verified") }),
      mine
        ? a.matched.map((k) => h("p", { class: "vx-anchored", dataset: { key: k.key_id },
          text: t("verifyexport.anchored_mine", { key: k.key_id, fp: k.fingerprint, by: trustedName(k.by, mine) }) }))
        : h("p", { class: "vx-anchored", text: t("verifyexport.anchored", { keys: a.trusted.join(", ") }) })));
  } else {
    const first = a.untrusted[0];
    verdict.replaceChildren(verdictBox("tampered", mine ? t("verifyexport.status_not_trusted_mine") : t("verifyexport.status_not_trusted"),
      h("p", { class: "vx-first", text: mine ? t("verifyexport.reason_key_not_trusted_mine") : reasonTitle("key_not_trusted") }),
      a.untrusted.map((k) => h("p", { text: mine
        ? t("verifyexport.not_trusted_mine", { key: k.key_id, fp: k.fingerprint, what: k.signs.join(", ") })
        : t("verifyexport.not_trusted", { key: k.key_id, fp: k.fingerprint, what: k.signs.join(", ") }) })),
      first ? null : h("p", { text: t("verifyexport.no_signing_key") })));
  }
  slot.replaceChildren(...a.witness.map((w) => h("p", { text: mine
    ? t(w.anchored ? "verifyexport.witness_mine" : "verifyexport.witness_mine_not", { key: w.key_id, source: mine.source })
    : t(w.anchored ? "verifyexport.witness_anchored" : "verifyexport.witness_not", { key: w.key_id }) })));
}

/** Which trusted key a signing key matched: a keys.json entry, a PEM block, a fingerprint's line. */
function trustedName(by, mine) {
  if (mine.kind === "json") return t("verifyexport.by_json", { key: by.key_id, source: mine.source });
  if (mine.kind === "pem") return t("verifyexport.by_pem", { index: by.index, source: mine.source });
  return t("verifyexport.by_fingerprint", { fp: by.fingerprint, line: by.line, source: mine.source });
}

/** What is wrong with the keys given (a TrustError of trust.js), in one sentence. */
function trustProblem(err) {
  const f = err.fields || {};
  switch (err.code) {
    case "empty": return t("verifyexport.trust_empty");
    case "too_big": return t("verifyexport.trust_too_big");
    case "json_invalid": return t("verifyexport.trust_json_invalid", { detail: f.detail });
    case "json_shape": return t("verifyexport.trust_json_shape");
    case "json_bad_key": return t("verifyexport.trust_json_bad_key", { key: f.key });
    case "json_no_log": return t("verifyexport.trust_json_no_log");
    case "pem_invalid": return t("verifyexport.trust_pem_invalid", { index: f.index });
    case "not_keys": return t("verifyexport.trust_not_keys", { line: f.line, value: f.value });
    case "fp_not_hex": return t("verifyexport.trust_fp_not_hex", { line: f.line, value: f.value });
    case "fp_short": return t("verifyexport.trust_fp_short", { line: f.line, digits: f.digits });
    case "fp_long": return t("verifyexport.trust_fp_long", { line: f.line, digits: f.digits });
    case "fp_odd": return t("verifyexport.trust_fp_odd", { line: f.line, digits: f.digits });
    default: return err.message || String(err);
  }
}

const MAX_TRUST_FILE = 1024 * 1024;

// "Compare with keys I trust": a keys.json or PEM file (chosen or dropped) or pasted fingerprints,
// read as `scelle verify --trusted-key` reads them (js/verify/trust.js). Invalid input is named
// under the fields and changes nothing; valid input replaces the verdict (Verified or key not trusted).
function trustCard(out, verdict) {
  const error = h("div", { class: "vx-trust-error", id: "vx-trust-error", role: "alert" });
  const result = h("div", { class: "vx-trust-result", id: "vx-trust-result", "aria-live": "polite" });
  const file = h("input", { type: "file", id: "vx-trust-file", accept: ".json,.pem,.txt,application/json,application/x-pem-file,text/plain",
    "aria-describedby": "vx-trust-file-hint vx-trust-error" });
  const text = h("textarea", { id: "vx-trust-text", rows: 3, spellcheck: "false", autocomplete: "off",
    "aria-describedby": "vx-trust-text-hint vx-trust-error" });
  const compare = h("button", { type: "button", id: "vx-trust-compare", text: t("verifyexport.trust_compare") });
  const card = h("section", { class: "card vx-trust", id: "vx-trust", "aria-labelledby": "vx-trust-title" },
    h("h2", { id: "vx-trust-title", text: t("verifyexport.trust_title") }),
    h("p", { class: "hint", text: t("verifyexport.trust_hint") }),
    h("p", { class: "hint", text: t("verifyexport.trust_log_only") }),
    h("div", { class: "field" }, h("label", { for: "vx-trust-file", text: t("verifyexport.trust_file") }), file,
      h("p", { class: "hint", id: "vx-trust-file-hint", text: t("verifyexport.trust_file_hint") })),
    h("div", { class: "field" }, h("label", { for: "vx-trust-text", text: t("verifyexport.trust_text") }), text,
      h("p", { class: "hint", id: "vx-trust-text-hint", text: t("verifyexport.trust_text_hint") })),
    compare, error, result);

  async function use(read, source, field) {
    error.replaceChildren();
    file.removeAttribute("aria-invalid");
    text.removeAttribute("aria-invalid");
    let keys;
    try {
      keys = await readTrustedKeys(await read());
    } catch (err) {
      field.setAttribute("aria-invalid", "true");
      const problem = err instanceof TrustError ? trustProblem(err) : (err.message || String(err));
      error.replaceChildren(notice("error", t("verifyexport.trust_invalid", { source, problem })));
      return;
    }
    const mine = { kind: keys.kind, source };
    const a = anchorTo(out, keys);
    anchored(verdict, result, a, mine);
    result.prepend(h("p", { class: "vx-trust-compared", text: t("verifyexport.trust_compared", { count: keys.log.length, source }) }));
  }
  const fromFile = (f) => use(async () => {
    if (f.size > MAX_TRUST_FILE) throw new TrustError("too_big");
    return f.text();
  }, f.name, file);
  file.addEventListener("change", async () => {
    if (!file.files || !file.files[0]) return;
    await fromFile(file.files[0]);
    file.value = "";  // the same file may be chosen again
  });
  compare.addEventListener("click", () => use(async () => text.value, t("verifyexport.trust_pasted"), text));
  card.addEventListener("dragover", (ev) => { ev.preventDefault(); card.classList.add("over"); });
  card.addEventListener("dragleave", () => card.classList.remove("over"));
  card.addEventListener("drop", (ev) => {
    ev.preventDefault();
    card.classList.remove("over");
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) fromFile(f);
  });
  return card;
}

function chainsTable(out) {
  const yes = t("verifyexport.yes"), no = t("verifyexport.no");
  return h("section", { class: "vx-chains" }, h("h2", { text: t("verifyexport.chains") }),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, [t("verifyexport.col_chain"), t("verifyexport.col_records"), t("verifyexport.col_checkpoints"),
        t("verifyexport.col_witness"), t("verifyexport.col_result")].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, out.chains.map((c) => h("tr", { dataset: { chain: c.chain, ok: String(c.ok) } },
        h("th", { scope: "row", text: c.chain }),
        h("td", { class: "num", text: `${fmt.number(c.records, 0)} / ${fmt.number(c.last_seq || 0, 0)}` }),
        h("td", { text: c.checkpoints.join(", ") }),
        h("td", { text: c.witnessed ? yes : no }),
        h("td", {}, h("span", { class: `badge ${c.ok ? "ok" : "bad"}`, text: c.ok ? t("verifyexport.chain_ok") : t("verifyexport.chain_bad") }))))))));
}

function keysList(out) {
  const keys = out.keys.filter((k) => k.signs.length || k.problem);
  return h("section", { class: "vx-keys" }, h("h2", { text: t("verifyexport.keys") }),
    h("p", { class: "hint", text: t("verifyexport.keys_hint") }),
    h("ul", {}, keys.map((k) => h("li", { dataset: { key: k.key_id } },
      h("strong", { text: `${k.key_id} (${k.role})` }), " ",
      h("span", { class: "fingerprint", text: `sha256:${k.fingerprint || "?"}` }), h("br"),
      t("verifyexport.key_signs", { what: k.signs.join(", ") || "—" })))));
}

function scopeNote() {
  return h("section", { class: "vx-scope" }, h("h2", { text: t("verifyexport.scope_title") }),
    h("p", { text: t("verifyexport.scope_checked") }), h("p", { text: t("verifyexport.scope_left") }),
    h("pre", { class: "code", tabindex: "0" }, h("code", { text: "scelle verify --trusted-key keys.json export.zip" })));
}

// The auditor guide, read from the archive itself (docs/ is in every archive): a link to save it.
function guideLink(blob) {
  const slot = h("p", { class: "vx-guide" });
  (async () => {
    try {
      const zip = await openZip(blob);
      const want = language() === "fr" ? "docs/auditor-guide.fr.md" : "docs/auditor-guide.en.md";
      const member = zip.members.find((m) => m.name === want);
      if (!member) return;
      const url = URL.createObjectURL(new Blob([await readMember(blob, member)], { type: "text/markdown" }));
      slot.append(t("verifyexport.guide"), " ",
        h("a", { href: url, download: want.split("/")[1], id: "vx-guide-link", text: t("verifyexport.guide_link", { file: want }) }));
    } catch { /* no guide to offer */ }
  })();
  return slot;
}

/** Fetches a finished export's download URL as a Blob and verifies it in a panel after the card. */
export async function verifyDownload(card, jobId, download) {
  const id = `vx-job-${jobId}`;
  let holder = document.getElementById(id);
  const panel = verifierPanel(`-${jobId}`);
  const fresh = h("div", { id, class: "vx-job" }, panel.node);
  if (holder) holder.replaceWith(fresh); else card.after(fresh);
  holder = fresh;
  const status = panel.node.querySelector(".vx-status");
  status.textContent = t("verifyexport.fetching");
  let blob;
  try {
    const resp = await fetch(download.url, { cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    blob = await resp.blob();
  } catch (err) {
    status.textContent = "";
    panel.node.append(notice("error", t("verifyexport.fetch_failed", { error: err.message || String(err) })));
    return;
  }
  await panel.run(blob, download.file_name);
}

export async function render() {
  const panel = verifierPanel();
  const input = h("input", { type: "file", id: "vx-file", accept: ".zip,application/zip", "aria-describedby": "vx-file-hint" });
  const zone = h("div", { class: "card narrow vx-drop", id: "vx-drop" },
    h("label", { for: "vx-file", text: t("verifyexport.file") }), input,
    h("p", { class: "hint", id: "vx-file-hint", text: t("verifyexport.file_hint") }));
  input.addEventListener("change", () => { if (input.files && input.files[0]) panel.run(input.files[0], input.files[0].name); });
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const file = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (file) panel.run(file, file.name);
  });
  return h("section", { id: "verify-export" }, h("h1", { text: t("verifyexport.title") }),
    h("p", { text: t("verifyexport.intro") }),
    h("p", { class: "hint", text: t("verifyexport.scope_short") }),
    zone, panel.node);
}
