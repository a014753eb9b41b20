// The RFC 6962 / RFC 9162 Merkle tree of docs/hash-format.md section 3, kept as a compact range
// (one subtree root per set bit of the size) so a chain of any length is followed in constant
// memory. Pure: no DOM.
import { sha256Sync, fromHex, toHex } from "./sha256.js";

export const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const leafInput = new Uint8Array(33);
const nodeInput = new Uint8Array(65);
nodeInput[0] = 1;

/** SHA-256(0x00 || the 32 bytes of a record's hash). */
export function leafHash(hashHex) {
  leafInput.set(fromHex(hashHex), 1);
  return sha256Sync(leafInput);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left, right) {
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256Sync(nodeInput);
}

export class CompactRange {
  constructor() { this.size = 0; this.hashes = []; }

  /** Appends the leaf of a record whose hash is hashHex (64 hex). */
  push(hashHex) {
    let h = leafHash(hashHex);
    let size = this.size;
    while (size & 1) { h = nodeHash(this.hashes.pop(), h); size >>= 1; }
    this.hashes.push(h);
    this.size += 1;
  }

  /** The root of the leaves pushed so far, hex. */
  root() {
    if (!this.hashes.length) return EMPTY_ROOT;
    let r = this.hashes[this.hashes.length - 1];
    for (let i = this.hashes.length - 2; i >= 0; i--) r = nodeHash(this.hashes[i], r);
    return toHex(r);
  }
}

/** The root of a list of record hashes (hex), as the recursive definition gives it (tests). */
export function rootOf(hashesHex) {
  const range = new CompactRange();
  hashesHex.forEach((h) => range.push(h));
  return range.root();
}

/** The root from raw leaf inputs (hex of any length: the RFC 6962 vectors' leaves). */
export function rootOfLeafInputs(inputsHex) {
  const level = inputsHex.map((x) => { const b = fromHex(x); const m = new Uint8Array(b.length + 1); m.set(b, 1); return sha256Sync(m); });
  const rec = (lo, hi) => {
    if (hi - lo === 1) return level[lo];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return nodeHash(rec(lo, lo + k), rec(lo + k, hi)).slice();
  };
  return level.length ? toHex(rec(0, level.length)) : EMPTY_ROOT;
}
