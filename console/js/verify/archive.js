// The in-browser verifier of a Scellé export archive (scelle-export/v1): the cryptographic seal,
// from docs/export-format.md, docs/hash-format.md and the auditor guide alone. Pure: no DOM; runs
// in a Worker (worker.js) or in the page.
//
// Checks: the ZIP opens, no member twice, exactly the manifest's files plus manifest.json and
// manifest.sig, each member's SHA-256; the manifest's signature; every key of keys/ (P-256, its id's
// fingerprint, its validity); every signed checkpoint of checkpoints.csv; every record of every
// chain (canonical bytes, hash, link, seq, tenant and chain), the Merkle root at every checkpoint
// size and the chain's end as the manifest states it; the witness's cosignatures. It does NOT
// rebuild the CSV views or the FEC from the records, nor check the closures' totals and the event
// journal's completeness: that is `scelle verify` (auditor guide, section 4).
//
// A result: {status: "ok" | "failed" | "invalid", problems: [...], first problem first, ...}.
// "invalid": not a Scellé export at all (not a ZIP, no manifest, another format).
import { isObject, JsonError, parse } from "./json.js";
import { checkLine, isInstant, LineProblem, ZERO_HASH } from "./records.js";
import { CompactRange } from "./merkle.js";
import { HEX64, Sha256, sha256, toHex } from "./sha256.js";
import { base64ToBytes, fingerprint, idFingerprint, importKey, pemToDer, verifyDer } from "./signatures.js";
import { CsvError, parseCsv } from "./csv.js";
import { memberStream, openZip, readMember, ZipError } from "./zip.js";

export const FORMAT = "scelle-export/v1";
export const MANIFEST = "manifest.json";
export const SIGNATURE = "manifest.sig";
export const KEYS = "keys/keys.json";
export const CHECKPOINTS = "checkpoints.csv";
export const COSIGNATURES = "cosignatures.csv";
const CHECKPOINT_HEADER = ["chaine", "taille", "racine", "horodatage_utc", "cle", "signature"];
const COSIGNATURE_HEADER = ["chaine", "taille", "racine", "cle_temoin", "horodatage_utc", "signature"];
const MAX_PROBLEMS = 200;
const utf8 = new TextEncoder();

class Invalid extends Error {
  constructor(reason, detail, file = null) { super(detail); this.reason = reason; this.file = file; }
}

function problem(reason, fields = {}) {
  return { reason, file: null, chain: null, seq: null, line: null, expected: null, found: null, detail: null, ...fields };
}

function validAt(key, t) {
  return isInstant(t) && key.not_before <= t && (key.not_after === null || t < key.not_after);
}

function decodeJson(bytes, file) {
  let text;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch { throw new JsonError(`${file} is not UTF-8`); }
  return parse(text);
}

/** The checkpoint's signed body (its six lines, each ending with LF). */
export function checkpointBody(tenantId, cp) {
  return `scelle-checkpoint/v1\nTENANT#${tenantId}#CHAIN#${cp.chain}\n${cp.size}\n${cp.root}\n${cp.timestamp}\n${cp.keyId}\n`;
}

/**
 * Verifies the archive in blob. onProgress({phase, records, total, file}) is called now and then.
 */
export async function verifyArchive(blob, { onProgress = () => {} } = {}) {
  const out = {
    status: "ok", problems: [], summary: null, chains: [], keys: [], records: 0, totalRecords: 0,
    files: 0, bytes: blob.size, witness: [],
  };
  try {
    await run(blob, out, onProgress);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    out.status = "invalid";
    out.problems = [problem(err.reason, { file: err.file, detail: err.message })];
    return out;
  }
  if (out.problems.length) out.status = "failed";
  if (out.problems.length > MAX_PROBLEMS) { out.more = out.problems.length - MAX_PROBLEMS; out.problems.length = MAX_PROBLEMS; }
  return out;
}

async function run(blob, out, onProgress) {
  onProgress({ phase: "open", records: 0, total: 0 });
  // 1. The ZIP file itself.
  let zip;
  try { zip = await openZip(blob); } catch (err) {
    if (err instanceof ZipError) throw new Invalid("unreadable", err.message);
    throw err;
  }
  const structure = [], manifestProblems = [], fileProblems = [], digestProblems = [], witnessProblems = [];
  const members = new Map();
  for (const m of zip.members) {
    if (members.has(m.name)) structure.push(problem("duplicate_member", { file: m.name, detail: "the name appears twice in the archive" }));
    else members.set(m.name, m);
  }
  if (!members.has(MANIFEST)) throw new Invalid("file_missing", "no manifest.json: not a Scellé export archive", MANIFEST);
  const read = async (name) => {
    try { return await readMember(blob, members.get(name)); } catch (err) {
      if (err instanceof ZipError) throw new Invalid("unreadable", err.message, name);
      throw err;
    }
  };
  // 2. The manifest.
  const manifestBytes = await read(MANIFEST);
  let manifest;
  try { manifest = decodeJson(manifestBytes, MANIFEST); } catch (err) {
    throw new Invalid("manifest_unreadable", `manifest.json is not a readable manifest: ${err.message}`, MANIFEST);
  }
  if (!isObject(manifest) || manifest.format !== FORMAT) {
    throw new Invalid("not_scelle", `manifest.json's format is ${JSON.stringify(isObject(manifest) ? manifest.format ?? null : null)}, not ${FORMAT}`, MANIFEST);
  }
  const tenant = isObject(manifest.tenant) ? manifest.tenant : {};
  const exp = isObject(manifest.export) ? manifest.export : {};
  const fail = (detail) => { throw new Invalid("manifest_malformed", detail, MANIFEST); };
  if (manifest.hash_format_version !== 1) manifestProblems.push(problem("bad_version", { file: MANIFEST, expected: "1", found: String(manifest.hash_format_version), detail: "hash_format_version" }));
  if (typeof tenant.tenant_id !== "string") fail("tenant.tenant_id is missing");
  if (!Array.isArray(manifest.files) || !manifest.files.every((f) => isObject(f) && typeof f.path === "string" && typeof f.sha256 === "string")) fail("files is not a list of {path, sha256}");
  if (!Array.isArray(manifest.chains) || !manifest.chains.every((c) => isObject(c) && typeof c.chain === "string")) fail("chains is not a list of chains");
  if (!isObject(manifest.signature)) fail("signature is missing");
  out.summary = {
    tenant_id: tenant.tenant_id, company_name: tenant.company_name ?? null, country: tenant.country ?? null,
    kind: exp.kind ?? null, fiscal: exp.fiscal === true, first_day: exp.first_day ?? null, last_day: exp.last_day ?? null,
    generated_at: exp.generated_at ?? null, job_id: exp.job_id ?? null,
  };
  out.totalRecords = manifest.chains.reduce((n, c) => n + (Number.isSafeInteger(c.last_seq) ? c.last_seq : 0), 0);

  // 3. Exactly the manifest's files, plus manifest.json and manifest.sig.
  const listed = new Map();
  for (const f of manifest.files) {
    if (listed.has(f.path) || f.path === MANIFEST || f.path === SIGNATURE) fail(`files lists ${f.path} twice or lists itself`);
    listed.set(f.path, f);
  }
  for (const path of [SIGNATURE, KEYS]) {
    if (!members.has(path)) fileProblems.push(problem("file_missing", { file: path, detail: "required in every archive" }));
  }
  if (!listed.has(KEYS)) fileProblems.push(problem("file_missing", { file: KEYS, detail: "not listed in the manifest" }));
  for (const path of listed.keys()) {
    if (!members.has(path)) fileProblems.push(problem("file_missing", { file: path, detail: "listed in the manifest, absent from the archive" }));
  }
  for (const name of members.keys()) {
    if (name !== MANIFEST && name !== SIGNATURE && !listed.has(name)) {
      fileProblems.push(problem("file_added", { file: name, detail: "in the archive, not listed in the manifest" }));
    }
  }
  out.files = members.size;

  // 4. The keys: keys/keys.json and each key's PEM.
  const keys = new Map();
  if (members.has(KEYS)) {
    let list;
    try { list = decodeJson(await read(KEYS), KEYS); } catch (err) {
      if (err instanceof Invalid) throw err;
      list = null;
      manifestProblems.push(problem("keys_unreadable", { file: KEYS, detail: err.message }));
    }
    for (const k of (isObject(list) && Array.isArray(list.keys) ? list.keys : [])) {
      if (!isObject(k) || typeof k.key_id !== "string") continue;
      const key = {
        key_id: k.key_id, role: k.role === undefined ? "log" : k.role, file: k.file, not_before: k.not_before, not_after: k.not_after ?? null,
        fingerprint: null, crypto: null, signs: [], problem: null,
      };
      if (keys.has(key.key_id)) { manifestProblems.push(problem("keys_unreadable", { file: KEYS, detail: `key ${key.key_id} listed twice` })); continue; }
      keys.set(key.key_id, key);
      try {
        if (typeof k.file !== "string" || !members.has(k.file)) throw new Error(`its file ${k.file} is not in the archive`);
        if (!isInstant(key.not_before) || !(key.not_after === null || isInstant(key.not_after))) throw new Error("its validity is not two instants");
        const der = pemToDer(new TextDecoder("ascii").decode(await read(k.file)));
        key.fingerprint = await fingerprint(der);
        const carried = idFingerprint(key.key_id);
        if (carried && !key.fingerprint.startsWith(carried)) {
          key.problem = "key_id_mismatch";
          manifestProblems.push(problem("key_id_mismatch", { file: k.file, expected: carried, found: key.fingerprint,
            detail: `the key id ${key.key_id} carries a fingerprint that is not its key's` }));
          continue;
        }
        key.crypto = await importKey(der);
      } catch (err) {
        if (err instanceof Invalid) throw err;
        key.problem = "key_not_valid";
        manifestProblems.push(problem("key_not_valid", { file: typeof k.file === "string" ? k.file : KEYS, detail: `key ${key.key_id}: ${err.message}` }));
      }
    }
  }
  // A usable key of this role, valid at t; else the reason it is not.
  const keyFor = (keyId, role, t) => {
    const key = keys.get(keyId);
    if (!key) return [null, `key ${keyId} is not in keys/keys.json`];
    if (key.role !== role) return [null, `key ${keyId} has role ${key.role}, not ${role}`];
    if (!key.crypto) return [null, `key ${keyId} is refused (${key.problem})`];
    if (!validAt(key, t)) return [null, `key ${keyId} is not valid at ${t} (valid from ${key.not_before} to ${key.not_after || "now"})`];
    return [key, null];
  };

  // 5. The manifest's signature.
  if (members.has(SIGNATURE)) {
    const sig = manifest.signature;
    const [key, why] = keyFor(sig.key_id, "log", exp.generated_at);
    if (sig.file !== SIGNATURE) manifestProblems.push(problem("manifest_malformed", { file: MANIFEST, detail: `signature.file is ${sig.file}` }));
    if (!key) manifestProblems.push(problem("key_not_valid", { file: SIGNATURE, detail: why }));
    else if (!(await verifyDer(key.crypto, await read(SIGNATURE), manifestBytes))) {
      manifestProblems.push(problem("bad_signature", { file: SIGNATURE, detail: `manifest.sig is not a valid signature of manifest.json by ${key.key_id}` }));
    } else key.signs.push("manifest.json");
  }

  // 6. The signed checkpoints (checkpoints.csv): signatures now, roots as the records stream.
  const chainInfo = new Map();
  manifest.chains.forEach((c) => chainInfo.set(c.chain, {
    chain: c.chain, manifest: c, problems: [], checkpoints: new Map(), stopped: false, lines: 0, lastHash: null,
    root: null, withheld: 0, witnessed: false, records: 0,
  }));
  const checkpointRows = [];
  if (members.has(CHECKPOINTS)) {
    let rows = [];
    try { rows = parseCsv(await read(CHECKPOINTS)); } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      manifestProblems.push(problem("checkpoints_unreadable", { file: CHECKPOINTS, detail: err.message }));
    }
    if (rows.length && rows[0].join(";") !== CHECKPOINT_HEADER.join(";")) {
      manifestProblems.push(problem("checkpoints_unreadable", { file: CHECKPOINTS, line: 1, expected: CHECKPOINT_HEADER.join(";"), found: rows[0].join(";") }));
      rows = [];
    }
    for (let r = 1; r < rows.length; r++) {
      const [chain, size, root, timestamp, keyId, signature] = rows[r];
      const row = r + 1;
      const info = chainInfo.get(chain);
      if (rows[r].length !== 6 || !/^(0|[1-9][0-9]*)$/.test(size) || !HEX64.test(root) || !isInstant(timestamp) || !keyId) {
        (info ? info.problems : manifestProblems).push(problem("checkpoints_unreadable", { file: CHECKPOINTS, line: row, chain: chain || null, detail: `row ${row} is not a checkpoint` }));
        continue;
      }
      const cp = { chain, size: Number(size), root, timestamp, keyId, signature, row, authentic: false };
      if (!info) {
        manifestProblems.push(problem("wrong_chain", { file: CHECKPOINTS, line: row, chain, seq: cp.size, detail: "a checkpoint of a chain the manifest does not list" }));
        continue;
      }
      checkpointRows.push(cp);
      const where = { file: CHECKPOINTS, line: row, chain, seq: cp.size };
      const same = info.checkpoints.get(cp.size);
      if (same) {
        info.problems.push(problem(same.root === cp.root ? "checkpoints_unreadable" : "checkpoint_inconsistent",
          { ...where, expected: same.root, found: cp.root, detail: `two checkpoints of size ${cp.size}` }));
        continue;
      }
      info.checkpoints.set(cp.size, cp);
      const [key, why] = keyFor(keyId, "log", timestamp);
      if (!key) { info.problems.push(problem("key_not_valid", { ...where, detail: why })); continue; }
      let der;
      try { der = base64ToBytes(signature); } catch { der = new Uint8Array(0); }
      if (!(await verifyDer(key.crypto, der, utf8.encode(checkpointBody(tenant.tenant_id, cp))))) {
        info.problems.push(problem("bad_signature", { ...where, detail: `the checkpoint of ${chain} at size ${cp.size} is not signed by ${keyId}` }));
        continue;
      }
      cp.authentic = true;
      key.signs.push(`${chain} @ ${cp.size}`);
    }
  }
  for (const info of chainInfo.values()) {
    const m = info.manifest;
    const sizes = [...info.checkpoints.keys()].sort((a, b) => a - b);
    const where = { file: MANIFEST, chain: info.chain };
    if (m.records !== `records/${info.chain}.jsonl`) info.problems.push(problem("manifest_mismatch", { ...where, expected: `records/${info.chain}.jsonl`, found: String(m.records), detail: "chains[].records" }));
    if (!Array.isArray(m.checkpoint_sizes) || m.checkpoint_sizes.join(",") !== sizes.join(",")) {
      info.problems.push(problem("manifest_mismatch", { ...where, expected: sizes.join(", "), found: String(m.checkpoint_sizes), detail: "chains[].checkpoint_sizes against checkpoints.csv" }));
    }
    info.signedEnd = sizes.length ? sizes[sizes.length - 1] : 0;
    if (m.last_seq !== info.signedEnd) info.problems.push(problem("not_signed", { ...where, expected: String(info.signedEnd), found: String(m.last_seq), detail: "chains[].last_seq is not the size of its newest checkpoint" }));
  }

  // 7. Every member's SHA-256, in the manifest's order; the records files verified as they stream.
  const byRecords = new Map([...chainInfo.values()].map((i) => [i.manifest.records, i]));
  let lastReport = 0;
  const progress = (file, force = false) => {
    const now = Date.now();
    if (force || now - lastReport > 100) { lastReport = now; onProgress({ phase: "records", records: out.records, total: out.totalRecords, file }); }
  };
  for (const f of manifest.files) {
    const member = members.get(f.path);
    if (!member) continue;
    const info = byRecords.get(f.path);
    if (!info && /^records\/.*\.jsonl$/.test(f.path)) {
      manifestProblems.push(problem("chain_unlisted", { file: f.path, detail: "a records file of no chain of the manifest's chains" }));
    }
    const hasher = new Sha256();
    const chain = info ? new ChainCheck(info, tenant.tenant_id, exp.fiscal === true, out) : null;
    if (info) info.streamed = true;
    try {
      const reader = (await memberStream(blob, member)).getReader();
      for (;;) {
        const step = await reader.read();
        if (step.done) break;
        hasher.update(step.value);
        if (chain) { await chain.push(step.value); progress(f.path); }
      }
    } catch (err) {
      if (err instanceof Invalid) throw err;
      digestProblems.push(problem("unreadable", { file: f.path, detail: err.message }));
      if (chain) info.stopped = true;
      continue;
    }
    if (chain) await chain.end();
    const digest = toHex(hasher.digest());
    if (digest !== f.sha256) digestProblems.push(problem("sha256_mismatch", { file: f.path, expected: f.sha256, found: digest, detail: "the SHA-256 of its uncompressed bytes" }));
  }
  progress("", true);
  // A chain whose records were never read proves nothing, whatever its signed numbers say.
  for (const info of chainInfo.values()) {
    if (!info.streamed && !info.stopped) {
      info.problems.push(problem("file_missing", { file: String(info.manifest.records), chain: info.chain, seq: 1,
        detail: "the chain's records file is not among the manifest's files: none of its records was checked" }));
    }
  }

  // 8. The witness's cosignatures.
  if (members.has(COSIGNATURES)) await checkCosignatures(await read(COSIGNATURES), tenant.tenant_id, manifest, keys, chainInfo, keyFor, witnessProblems);

  // The report: chain by chain in archive order (each chain's problems by seq), then the rest.
  const chainProblems = [];
  for (const info of chainInfo.values()) {
    info.problems.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
    chainProblems.push(...info.problems);
    const sizes = [...info.checkpoints.keys()].sort((a, b) => a - b);
    out.chains.push({
      chain: info.chain, records: info.lines, last_seq: info.manifest.last_seq, root: info.root, withheld: info.withheld,
      checkpoints: sizes, signed: sizes.length > 0 && sizes.every((s) => info.checkpoints.get(s).authentic),
      witnessed: info.witnessed, ok: info.problems.length === 0,
    });
  }
  out.problems = [...structure, ...fileProblems, ...manifestProblems, ...chainProblems, ...digestProblems, ...witnessProblems];
  out.keys = [...keys.values()].map((k) => ({ key_id: k.key_id, role: k.role, file: k.file, fingerprint: k.fingerprint,
    not_before: k.not_before, not_after: k.not_after, signs: k.signs, problem: k.problem }));
}

/** One chain's records, line by line as they stream: docs/hash-format.md section 5. */
class ChainCheck {
  constructor(info, tenantId, fiscal, out) {
    this.info = info; this.tenantId = tenantId; this.fiscal = fiscal; this.out = out;
    this.rest = new Uint8Array(0);
    this.decoder = new TextDecoder("utf-8", { fatal: true });
    this.range = new CompactRange();
    this.prevHash = null;
    this.next = 1;
  }

  stop(reason, fields) {
    this.info.problems.push(problem(reason, { file: this.info.manifest.records, chain: this.info.chain, ...fields }));
    this.info.stopped = true;
  }

  async push(chunk) {
    if (this.info.stopped) return;
    let data = chunk;
    if (this.rest.length) { data = new Uint8Array(this.rest.length + chunk.length); data.set(this.rest); data.set(chunk, this.rest.length); }
    const lines = [];
    let start = 0;
    for (;;) {
      const lf = data.indexOf(0x0a, start);
      if (lf < 0) break;
      lines.push(data.subarray(start, lf));
      start = lf + 1;
    }
    this.rest = data.slice(start);
    if (lines.length) await this.lines(lines);
  }

  async end() {
    if (this.info.stopped) return;
    const info = this.info;
    if (this.rest.length) { this.stop("non_canonical", { seq: this.next, line: this.next, detail: "the last line does not end with a line feed" }); return; }
    const m = info.manifest;
    const where = { file: MANIFEST, chain: info.chain };
    if (info.lines < info.signedEnd) {
      this.stop("truncated", { seq: info.lines + 1, expected: `${info.signedEnd} records (signed)`, found: `${info.lines} records`, detail: "an authentic checkpoint covers more records than the file holds" });
      return;
    }
    info.root = this.range.root();
    if (m.root !== info.root) info.problems.push(problem("manifest_mismatch", { ...where, expected: info.root, found: String(m.root), detail: "chains[].root against the records" }));
    if (m.last_hash !== info.lastHash) info.problems.push(problem("manifest_mismatch", { ...where, expected: String(info.lastHash), found: String(m.last_hash), detail: "chains[].last_hash against the records" }));
    if (this.fiscal && m.withheld_training !== info.withheld) {
      info.problems.push(problem("manifest_mismatch", { ...where, expected: String(info.withheld), found: String(m.withheld_training), detail: "chains[].withheld_training against the stand-ins" }));
    }
  }

  async lines(lines) {
    const info = this.info;
    // Parse and canonical form (line by line, independent), then the digests together.
    const checked = lines.map((bytes) => {
      try {
        return checkLine(this.decoder.decode(bytes));
      } catch (err) {
        if (err instanceof LineProblem) return err;
        if (err instanceof TypeError) return new LineProblem("non_canonical", "not UTF-8");
        throw err;
      }
    });
    const digests = await Promise.all(checked.map((c) => (c instanceof LineProblem || c.hashInput === null ? null : sha256(utf8.encode(c.hashInput)))));
    for (let k = 0; k < checked.length; k++) {
      const c = checked[k];
      const line = info.lines + 1;
      const expectedSeq = this.next;
      const at = { line, seq: expectedSeq };
      if (c instanceof LineProblem) { this.stop(c.reason, { ...at, seq: c.seq ?? expectedSeq, detail: c.detail }); return; }
      if (line > info.signedEnd) { this.stop("not_signed", { ...at, detail: `records past the newest signed checkpoint (size ${info.signedEnd}) are vouched for by no signature` }); return; }
      if (c.tenant_id !== this.tenantId || c.chain !== info.chain) {
        this.stop("wrong_chain", { ...at, expected: `${this.tenantId} / ${info.chain}`, found: `${c.tenant_id} / ${c.chain}` }); return;
      }
      if (c.seq !== expectedSeq) {
        this.stop(c.seq < expectedSeq ? "duplicate" : "gap", { ...at, seq: c.seq < expectedSeq ? c.seq : expectedSeq, expected: `seq ${expectedSeq}`, found: `seq ${c.seq}` });
        return;
      }
      if (c.withheld !== null) {
        if (info.chain !== "events" || !this.fiscal || c.withheld !== "training") {
          this.stop("withheld", { ...at, detail: `a withheld stand-in (${c.withheld}) where none may be: ${info.chain !== "events" ? "a ledger chain" : !this.fiscal ? "a test-mode archive" : "not training"}` });
          return;
        }
        info.withheld += 1;
      } else {
        const recomputed = toHex(digests[k]);
        if (recomputed !== c.hash) { this.stop("hash_mismatch", { ...at, expected: recomputed, found: c.hash, detail: "SHA-256 of the record's canonical bytes" }); return; }
      }
      if (expectedSeq === 1 && c.prev_hash !== ZERO_HASH) { this.stop("bad_genesis", { ...at, expected: ZERO_HASH, found: c.prev_hash }); return; }
      if (expectedSeq > 1 && c.prev_hash !== this.prevHash) {
        this.stop("broken_link", { ...at, expected: this.prevHash, found: c.prev_hash, detail: `prev_hash is not the hash of seq ${expectedSeq - 1}` });
        return;
      }
      this.range.push(c.hash);
      this.prevHash = c.hash;
      info.lastHash = c.hash;
      info.lines = line;
      this.next += 1;
      this.out.records += 1;
      const cp = info.checkpoints.get(line);
      if (cp) {
        const root = this.range.root();
        if (root !== cp.root) {
          this.stop("checkpoint_mismatch", { file: CHECKPOINTS, line: cp.row, seq: line, expected: root, found: cp.root,
            detail: `the Merkle root of records 1..${line} is not the signed root` });
          return;
        }
      }
    }
  }
}

async function checkCosignatures(bytes, tenantId, manifest, keys, chainInfo, keyFor, problems) {
  let rows;
  try { rows = parseCsv(bytes); } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    problems.push(problem("cosignatures_unreadable", { file: COSIGNATURES, detail: err.message }));
    return;
  }
  if (!rows.length || rows[0].join(";") !== COSIGNATURE_HEADER.join(";")) {
    problems.push(problem("cosignatures_unreadable", { file: COSIGNATURES, line: 1, expected: COSIGNATURE_HEADER.join(";"), found: (rows[0] || []).join(";") }));
    return;
  }
  const witnessKeys = Array.isArray(manifest.witness_keys) ? manifest.witness_keys : [];
  for (let r = 1; r < rows.length; r++) {
    const [chain, size, root, witnessId, time, signature] = rows[r];
    const where = { file: COSIGNATURES, line: r + 1, chain: chain || null, seq: /^\d+$/.test(size || "") ? Number(size) : null };
    const info = chainInfo.get(chain);
    const cp = info && info.checkpoints.get(Number(size));
    if (rows[r].length !== 6 || !cp || !isInstant(time)) {
      problems.push(problem("cosignature_mismatch", { ...where, detail: "no checkpoint of this chain and size in checkpoints.csv" }));
      continue;
    }
    if (cp.root !== root) { problems.push(problem("cosignature_mismatch", { ...where, expected: cp.root, found: root, detail: "the root co-signed is not the checkpoint's" })); continue; }
    if (!witnessKeys.includes(witnessId)) { problems.push(problem("key_not_valid", { ...where, detail: `${witnessId} is not one of the manifest's witness_keys` })); continue; }
    const [key, why] = keyFor(witnessId, "witness", time);
    if (!key) { problems.push(problem("key_not_valid", { ...where, detail: why })); continue; }
    let der;
    try { der = base64ToBytes(signature); } catch { der = new Uint8Array(0); }
    const text = `scelle-cosignature/v1\nwitness ${witnessId}\ntime ${time}\n${checkpointBody(tenantId, cp)}`;
    if (!(await verifyDer(key.crypto, der, utf8.encode(text)))) {
      problems.push(problem("bad_signature", { ...where, detail: `the cosignature of ${chain} at size ${size} is not signed by ${witnessId}` }));
      continue;
    }
    key.signs.push(`${chain} @ ${size} (cosignature)`);
    if (Number(size) === info.signedEnd) info.witnessed = true;
  }
}

/**
 * Compares the keys that sign something in a verified archive with published keys (the JSON of
 * GET /v1/keys, obtained by the user from a source they trust). Anchored when every log key that
 * signs something (the manifest, a checkpoint) has the fingerprint of a published log key.
 */
export async function anchor(result, published) {
  const list = isObject(published) && Array.isArray(published.keys) ? published.keys : [];
  const trusted = { log: [], witness: [] };
  for (const k of list) {
    try {
      const fp = await fingerprint(pemToDer(k.public_key_pem));
      (k.role === "witness" ? trusted.witness : trusted.log).push({ fingerprint: fp, key_id: k.key_id });
    } catch { /* a published key that is not a PEM anchors nothing */ }
  }
  return { ...anchorTo(result, trusted), published: list.length };
}

/**
 * The same comparison with keys the user trusts (trust.js, readTrustedKeys: {log: [{fingerprint,
 * …}], witness: [...] | null}), as `scelle verify --trusted-key`: every log key that signs
 * something must have a fingerprint that starts with a trusted one (a prefix of at least 32 digits
 * anchors what it starts). `matched` names, for each signing key, the trusted entry it matched
 * (`by`); `witness` compares the archive's witness keys with trusted witness keys, [] when none
 * were given (null).
 */
export function anchorTo(result, trusted) {
  const find = (fp, list) => (fp ? list.find((t) => fp.startsWith(t.fingerprint)) || null : null);
  const signing = result.keys.filter((k) => k.role === "log" && k.signs.length)
    .map((k) => ({ key_id: k.key_id, fingerprint: k.fingerprint, signs: k.signs, by: find(k.fingerprint, trusted.log) }));
  const matched = signing.filter((k) => k.by);
  const witnesses = trusted.witness ? result.keys.filter((k) => k.role === "witness" && k.signs.length) : [];
  return {
    anchored: signing.length > 0 && matched.length === signing.length,
    trusted: matched.map((k) => k.key_id),
    matched,
    untrusted: signing.filter((k) => !k.by).map(({ key_id, fingerprint, signs }) => ({ key_id, fingerprint, signs })),
    witness: witnesses.map((k) => ({ key_id: k.key_id, fingerprint: k.fingerprint, anchored: Boolean(find(k.fingerprint, trusted.witness)) })),
  };
}
