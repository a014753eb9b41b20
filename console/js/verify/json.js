// Strict JSON and the canonical form of docs/hash-format.md section 1. Pure: no DOM.
//
// parse(): RFC 8259 JSON, refusing what a sealed record may not hold: duplicate keys, numbers with a
// fraction or an exponent (even 1.0), -0, integers outside -2^63..2^63-1, unpaired surrogates, and
// nesting deeper than 64 levels. Integers are exact: beyond Number.MAX_SAFE_INTEGER they are BigInt
// (never rounded: JSON.parse would), so the canonical bytes and the hash are those of the digits.
// Objects are null-prototype objects (a key "__proto__" is a key like any other).
// canonical(): sorted keys (by code point, not UTF-16 unit), no whitespace, raw UTF-8, only the
// short escapes and \u00xx (lowercase) for the other control characters.

export class JsonError extends Error {}

const MIN_INT = -(2n ** 63n);
const MAX_INT = 2n ** 63n - 1n;
export const MAX_DEPTH = 64;

export function parse(text, { maxDepth = MAX_DEPTH } = {}) {
  let i = 0;
  const n = text.length;
  const fail = (what) => { throw new JsonError(`${what} at character ${i + 1}`); };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++; else break;
    }
  };
  function str() {
    i++; // opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= n) fail("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(start, i); i++; return out; }
      if (c < 0x20) fail("control character in a string");
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw surrogates can only be a valid pair here (the text came from a fatal UTF-8 decode).
        if (c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { i += 2; continue; }
        fail("unpaired surrogate");
      }
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      const e = text[i + 1];
      i += 2;
      if (e === '"') out += '"'; else if (e === "\\") out += "\\"; else if (e === "/") out += "/";
      else if (e === "b") out += "\b"; else if (e === "f") out += "\f"; else if (e === "n") out += "\n";
      else if (e === "r") out += "\r"; else if (e === "t") out += "\t";
      else if (e === "u") {
        const u = hex4(i); i += 4;
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[i] !== "\\" || text[i + 1] !== "u") fail("unpaired surrogate");
          const low = hex4(i + 2);
          if (low < 0xdc00 || low > 0xdfff) fail("unpaired surrogate");
          i += 6;
          out += String.fromCharCode(u, low);
        } else if (u >= 0xdc00 && u <= 0xdfff) fail("unpaired surrogate");
        else out += String.fromCharCode(u);
      } else { i -= 1; fail("bad escape"); }
      start = i;
    }
  }
  function hex4(at) {
    const s = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(s)) { i = at; fail("bad \\u escape"); }
    return parseInt(s, 16);
  }
  function num() {
    const start = i;
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (text[i] >= "1" && text[i] <= "9") { while (text[i] >= "0" && text[i] <= "9") i++; }
    else fail("bad number");
    const c = text[i];
    if (c === "." || c === "e" || c === "E") fail("a number with a fraction or an exponent (only integers are allowed)");
    const raw = text.slice(start, i);
    if (raw === "-0") { i = start; fail("-0 (not canonical)"); }
    if (raw.length <= 15) return Number(raw);
    const big = BigInt(raw);
    if (big < MIN_INT || big > MAX_INT) { i = start; fail("an integer outside -2^63..2^63-1"); }
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  function value(depth) {
    ws();
    if (i >= n) fail("unexpected end");
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth > maxDepth) fail(`nesting deeper than ${maxDepth} levels`);
      i++;
      ws();
      if (c === "[") {
        const arr = [];
        if (text[i] === "]") { i++; return arr; }
        for (;;) {
          arr.push(value(depth + 1));
          ws();
          if (text[i] === ",") { i++; continue; }
          if (text[i] === "]") { i++; return arr; }
          fail("expected , or ]");
        }
      }
      const obj = Object.create(null);
      if (text[i] === "}") { i++; return obj; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = str();
        if (Object.prototype.hasOwnProperty.call(obj, key)) { fail(`duplicate key "${key}"`); }
        ws();
        if (text[i] !== ":") fail("expected :");
        i++;
        obj[key] = value(depth + 1);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return obj; }
        fail("expected , or }");
      }
    }
    if (c === '"') return str();
    if (c === "-" || (c >= "0" && c <= "9")) return num();
    if (text.startsWith("true", i)) { i += 4; return true; }
    if (text.startsWith("false", i)) { i += 5; return false; }
    if (text.startsWith("null", i)) { i += 4; return null; }
    return fail("unexpected character");
  }
  const out = value(1);
  ws();
  if (i !== n) fail("trailing characters");
  return out;
}

export function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function isInteger(v) {
  return typeof v === "bigint" || Number.isSafeInteger(v);
}

// Code-point order of two strings: UTF-16 order, except that a surrogate (U+D800-DFFF, part of a
// character above U+FFFF) sorts after U+E000-U+FFFF. Remapping the units keeps the comparison linear.
function fix(c) { return c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c; }
export function compareCodePoints(a, b) {
  const m = Math.min(a.length, b.length);
  for (let k = 0; k < m; k++) {
    const x = a.charCodeAt(k), y = b.charCodeAt(k);
    if (x !== y) return fix(x) - fix(y);
  }
  return a.length - b.length;
}

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
// eslint-disable-next-line no-control-regex
const ESCAPES = /["\\\u0000-\u001f]/g;
const SHORT = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" };
export function canonicalString(s) {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  return `"${s.replace(ESCAPES, (ch) => SHORT[ch] || `\\u00${ch.charCodeAt(0).toString(16).padStart(2, "0")}`)}"`;
}

/** The canonical JSON text of a parsed value (encode it as UTF-8 for the bytes). */
export function canonical(v) {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return canonicalString(v);
  if (typeof v === "bigint") {
    if (v < MIN_INT || v > MAX_INT) throw new JsonError("an integer outside -2^63..2^63-1");
    return v.toString();
  }
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new JsonError(`not an exact integer: ${v}`);
    return Object.is(v, -0) ? "0" : String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object") {
    const keys = Object.keys(v).sort(compareCodePoints);
    return `{${keys.map((k) => `${canonicalString(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  throw new JsonError(`not a JSON value: ${typeof v}`);
}

/** The canonical members of an object, each "key":value, in canonical order. */
export function canonicalMembers(obj) {
  return Object.keys(obj).sort(compareCodePoints).map((k) => [k, `${canonicalString(k)}:${canonical(obj[k])}`]);
}
