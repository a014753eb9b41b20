// One line of records/<chain>.jsonl, checked on its own (docs/export-format.md section 8,
// docs/hash-format.md sections 2 and 5): a sealed record of exactly the ten fields, or a withheld
// stand-in of exactly six, byte for byte its canonical JSON. What depends on the chain (tenant,
// seq, link, hash, Merkle tree) is archive.js's. Pure: no DOM.
import { canonicalMembers, isInteger, isObject, JsonError, parse } from "./json.js";
import { HEX64 } from "./sha256.js";

export const RECORD_FIELDS = ["chain", "data", "hash", "hash_version", "prev_hash", "recorded_at", "seq", "tenant_id", "training", "type"];
export const STANDIN_FIELDS = ["chain", "hash", "prev_hash", "seq", "tenant_id", "withheld"];
export const ZERO_HASH = "0".repeat(64);

export class LineProblem extends Error {
  constructor(reason, detail) { super(detail); this.reason = reason; this.detail = detail; }
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;
/** A UTC instant written YYYY-MM-DDTHH:MM:SS.ffffffZ with a real calendar date, no leap second. */
export function isInstant(s) {
  const m = typeof s === "string" && INSTANT.exec(s);
  if (!m) return false;
  const [y, mo, d, hh, mm, ss] = m.slice(1).map(Number);
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1] && hh < 24 && mm < 60 && ss < 60;
}

// eslint-disable-next-line no-control-regex
const BAD_NAME = /[#\u0000-\u001f\u007f]/;
function name(v, max) { return typeof v === "string" && v.length >= 1 && v.length <= max && !BAD_NAME.test(v); }

function exactFields(obj, fields) {
  const keys = Object.keys(obj);
  const extra = keys.filter((k) => !fields.includes(k));
  if (extra.length) throw new LineProblem("non_canonical", `unexpected field ${JSON.stringify(extra[0])}: not part of hash format v1`);
  const missing = fields.filter((k) => !(k in obj));
  if (missing.length) throw new LineProblem("non_canonical", `missing field ${JSON.stringify(missing[0])}`);
}

/**
 * Checks one line (its text, without the line feed). Returns
 * {withheld, seq, hash, prev_hash, tenant_id, chain, hashInput} — hashInput the canonical text of
 * the record without "hash" (null for a stand-in) — or throws a LineProblem (non_canonical,
 * bad_version). The seq is also given on the problem when it could be read.
 */
export function checkLine(text) {
  let obj;
  try { obj = parse(text); } catch (err) {
    throw new LineProblem("non_canonical", err instanceof JsonError ? `not valid JSON for hash format v1: ${err.message}` : String(err));
  }
  if (!isObject(obj)) throw new LineProblem("non_canonical", "not a JSON object");
  const seqOf = () => (Number.isSafeInteger(obj.seq) && obj.seq >= 1 ? obj.seq : null);
  try {
    const withheld = "withheld" in obj;
    if (withheld) {
      exactFields(obj, STANDIN_FIELDS);
    } else {
      exactFields(obj, RECORD_FIELDS);
      if (isInteger(obj.hash_version) && obj.hash_version !== 1) throw new LineProblem("bad_version", `hash_version ${obj.hash_version}, not 1`);
      if (obj.hash_version !== 1) throw new LineProblem("non_canonical", "hash_version is not an integer");
      if (!name(obj.type, Infinity)) throw new LineProblem("non_canonical", "type is not a non-empty name");
      if (!isInstant(obj.recorded_at)) throw new LineProblem("non_canonical", `recorded_at ${JSON.stringify(obj.recorded_at)} is not YYYY-MM-DDTHH:MM:SS.ffffffZ`);
      if (typeof obj.training !== "boolean") throw new LineProblem("non_canonical", "training is not a boolean");
      if (!isObject(obj.data)) throw new LineProblem("non_canonical", "data is not an object");
    }
    if (!name(obj.tenant_id, 200)) throw new LineProblem("non_canonical", "tenant_id is not a valid name");
    if (!name(obj.chain, 200)) throw new LineProblem("non_canonical", "chain is not a valid name");
    if (!seqOf()) throw new LineProblem("non_canonical", "seq is not a positive integer");
    if (typeof obj.hash !== "string" || !HEX64.test(obj.hash)) throw new LineProblem("non_canonical", "hash is not 64 lowercase hex digits");
    if (typeof obj.prev_hash !== "string" || !HEX64.test(obj.prev_hash)) throw new LineProblem("non_canonical", "prev_hash is not 64 lowercase hex digits");
    if (withheld && typeof obj.withheld !== "string") throw new LineProblem("non_canonical", "withheld is not a string");
    let members;
    try { members = canonicalMembers(obj); } catch (err) { throw new LineProblem("non_canonical", err.message); }
    const full = `{${members.map((m) => m[1]).join(",")}}`;
    if (full !== text) throw new LineProblem("non_canonical", "the line is not byte for byte the canonical JSON of what it holds");
    return {
      withheld: withheld ? obj.withheld : null, seq: obj.seq, hash: obj.hash, prev_hash: obj.prev_hash,
      tenant_id: obj.tenant_id, chain: obj.chain,
      hashInput: withheld ? null : `{${members.filter((m) => m[0] !== "hash").map((m) => m[1]).join(",")}}`,
    };
  } catch (err) {
    if (err instanceof LineProblem) err.seq = seqOf();
    throw err;
  }
}
