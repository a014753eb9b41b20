// The keys an auditor trusts, read as `scelle verify --trusted-key` reads them (auditor guide,
// section 4; verifier/scelle_verify/verifier.py, load_trusted_keys): the JSON of GET /v1/keys (its
// log keys: an entry without a role is a log key; its witness keys kept apart, as for
// --witness-key), PEM public keys (ECDSA P-256), or SHA-256 fingerprints, one per line, as people
// copy them: `sha256:3f2a…`, `3F:2A:…`, a line of `sha256sum` (`3f2a…  -`) or `openssl dgst`
// (`SHA2-256(stdin)= 3f2a…`), at least 32 of the 64 hex digits (a prefix anchors what it starts).
// One stricter rule than the command: a prefix is whole bytes (an even number of digits), so a
// fingerprint copied one digit short is refused rather than trusted as a 63-digit prefix.
// Pure: no DOM. A problem throws a TrustError naming it (code and its fields, for the screen's
// message); nothing is returned then.
import { isObject } from "./json.js";
import { sha256, toHex } from "./sha256.js";
import { base64ToBytes } from "./signatures.js";

export const MIN_FINGERPRINT_DIGITS = 32;
const PEM_BLOCK = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/g;

export class TrustError extends Error {
  constructor(code, fields = {}) {
    super(`${code}${fields.detail ? `: ${fields.detail}` : ""}`);
    this.code = code;
    this.fields = fields;
  }
}

/**
 * One fingerprint as copied ("sha256:…", colons, sha256sum's or openssl dgst's output): its lower
 * case hex digits, or a TrustError (fp_not_hex, fp_short, fp_long, fp_odd) naming what is wrong.
 */
export function parseFingerprint(text) {
  let value = String(text).trim();
  const shown = value.length > 80 ? `${value.slice(0, 77)}…` : value;
  if (value.includes("= ")) value = value.slice(value.lastIndexOf("= ") + 2).trim();
  value = value.split(/\s+/)[0] || "";
  if (value.toLowerCase().startsWith("sha256:")) value = value.slice(7);
  value = value.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(value)) throw new TrustError("fp_not_hex", { value: shown });
  const digits = value.length;
  if (digits < MIN_FINGERPRINT_DIGITS) throw new TrustError("fp_short", { value: shown, digits });
  if (digits > 64) throw new TrustError("fp_long", { value: shown, digits });
  if (digits % 2) throw new TrustError("fp_odd", { value: shown, digits });
  return value;
}

/** The fingerprint (hex SHA-256 of the DER SubjectPublicKeyInfo, re-encoded as the command does)
 * of a PEM public key's base64 body; a TrustError "pem_invalid" when it is no P-256 public key. */
async function pemFingerprint(body, index) {
  let key;
  try {
    const der = base64ToBytes(body.replace(/\s+/g, ""));
    key = await crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  } catch {
    throw new TrustError("pem_invalid", { index });
  }
  return toHex(await sha256(new Uint8Array(await crypto.subtle.exportKey("spki", key))));
}

/**
 * Reads the text of a file or of the pasted box: {kind: "json" | "pem" | "fingerprints",
 * log: [{fingerprint, key_id?, index?, line?}], witness: [...] | null}. `witness` is the keys.json's
 * witness keys (null for PEM and fingerprints, which say no role). Throws TrustError: empty, not_keys,
 * json_invalid, json_shape, json_bad_key, json_no_log, pem_invalid, or a fingerprint's (with line).
 */
export async function readTrustedKeys(text) {
  const source = String(text ?? "").replace(/^\uFEFF/, "");
  if (!source.trim()) throw new TrustError("empty");
  if (source.trimStart().startsWith("{")) return readKeyList(source);
  const blocks = [...source.matchAll(PEM_BLOCK)];
  if (blocks.length) {
    const log = [];
    for (let i = 0; i < blocks.length; i++) log.push({ fingerprint: await pemFingerprint(blocks[i][1], i + 1), index: i + 1 });
    return { kind: "pem", log, witness: null };
  }
  if (source.includes("-----BEGIN")) throw new TrustError("pem_invalid", { index: 1 });
  const log = [];
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    try {
      log.push({ fingerprint: parseFingerprint(lines[i]), line: i + 1 });
    } catch (err) {
      if (!(err instanceof TrustError)) throw err;
      err.fields.line = i + 1;
      if (err.code === "fp_not_hex" && !log.length) throw new TrustError("not_keys", err.fields);  // nothing of a key at all
      throw err;
    }
  }
  return { kind: "fingerprints", log, witness: null };
}

async function readKeyList(source) {
  let doc;
  try {
    doc = JSON.parse(source);  // as lenient as the command's json.loads: keys.json is not a sealed record
  } catch (err) {
    throw new TrustError("json_invalid", { detail: err.message });
  }
  if (!isObject(doc) || !Array.isArray(doc.keys)) throw new TrustError("json_shape");
  const out = { kind: "json", log: [], witness: [] };
  for (let i = 0; i < doc.keys.length; i++) {
    const k = doc.keys[i];
    const keyId = isObject(k) && typeof k.key_id === "string" ? k.key_id : `#${i + 1}`;
    const pem = isObject(k) ? k.public_key_pem : null;
    const m = typeof pem === "string" ? /^\s*-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----\s*$/.exec(pem) : null;
    if (!m) throw new TrustError("json_bad_key", { key: keyId });
    let fp;
    try { fp = await pemFingerprint(m[1], i + 1); } catch { throw new TrustError("json_bad_key", { key: keyId }); }
    const role = k.role === undefined || k.role === null ? "log" : k.role;
    if (role === "log") out.log.push({ fingerprint: fp, key_id: keyId, index: i + 1 });
    else if (role === "witness") out.witness.push({ fingerprint: fp, key_id: keyId, index: i + 1 });
  }
  if (!out.log.length) throw new TrustError("json_no_log");
  return out;
}
