// Public keys and ECDSA P-256 / SHA-256 signatures with WebCrypto (crypto.subtle). Scellé's
// signatures (KMS, OpenSSL) are DER SEQUENCE { r INTEGER, s INTEGER }; WebCrypto verifies the raw
// 64-byte r || s. Pure: no DOM.
import { sha256, toHex } from "./sha256.js";

export class SignatureError extends Error {}

/** The DER bytes of a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo). */
export function pemToDer(pem) {
  const m = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/.exec(pem);
  if (!m) throw new SignatureError("not a PEM public key");
  return base64ToBytes(m[1].replace(/[\r\n]/g, ""));
}

export function base64ToBytes(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) throw new SignatureError("not standard base64");
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** DER ECDSA signature -> raw r || s (32 + 32 bytes). Strict DER: definite short lengths, minimal
 * positive integers, nothing after the sequence. */
export function derToRaw(der) {
  const bad = (why) => { throw new SignatureError(`malformed DER signature: ${why}`); };
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) bad("not one SEQUENCE");
  let p = 2;
  const out = new Uint8Array(64);
  for (const slot of [0, 32]) {
    if (der[p] !== 0x02) bad("INTEGER expected");
    const len = der[p + 1];
    if (len < 1 || len > 33 || p + 2 + len > der.length) bad("bad INTEGER length");
    let v = der.subarray(p + 2, p + 2 + len);
    if (v[0] & 0x80) bad("negative INTEGER");
    if (len > 1 && v[0] === 0 && !(v[1] & 0x80)) bad("INTEGER not minimal");
    if (v[0] === 0) v = v.subarray(1);
    if (v.length > 32) bad("INTEGER too large for P-256");
    out.set(v, slot + 32 - v.length);
    p += 2 + len;
  }
  if (p !== der.length) bad("trailing bytes");
  return out;
}

/** hex SHA-256 of the key's DER SubjectPublicKeyInfo: the key's fingerprint. */
export async function fingerprint(der) {
  return toHex(await sha256(der));
}

/** The WebCrypto ECDSA P-256 verification key of a DER SubjectPublicKeyInfo (throws if it is not one). */
export async function importKey(der) {
  try {
    return await crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch (err) {
    throw new SignatureError(`not an ECDSA P-256 public key (${err.message})`);
  }
}

/** True when the DER signature of message (bytes) verifies with key (a CryptoKey). A malformed
 * signature is false too. */
export async function verifyDer(key, derSignature, message) {
  let raw;
  try { raw = derToRaw(derSignature); } catch { return false; }
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, message);
}

/** The fingerprint digits a key id carries (docs/hash-format.md section 4): its last ":"-part when
 * that is 16 to 64 hex digits, else null. */
export function idFingerprint(keyId) {
  const last = String(keyId).split(":").pop();
  return /^[0-9a-f]{16,64}$/i.test(last) ? last.toLowerCase() : null;
}
