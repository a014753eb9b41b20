// Reading a ZIP archive from a Blob (a File, or a download): the end of central directory record
// (ZIP64 too), the central directory, and each member's bytes, inflated with the browser's own
// DecompressionStream("deflate-raw") as a stream, its CRC-32 and size checked as it is read.
// Pure: no DOM. Only what a Scellé export needs and what any re-packing tool writes: stored
// (method 0) and deflated (method 8) members, no encryption, one disk.

export class ZipError extends Error {}

const u16 = (b, o) => b[o] | (b[o + 1] << 8);
const u32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b, o) => {
  const value = u32(b, o) + u32(b, o + 4) * 0x100000000;
  if (!Number.isSafeInteger(value)) throw new ZipError("a ZIP64 field is too large");
  return value;
};

async function bytesOf(blob, start, end) {
  if (start < 0 || end > blob.size || start > end) throw new ZipError("the ZIP structure points outside the file");
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

/** The archive's members: [{name, method, flags, crc, compressedSize, size, offset}], in central
 * directory order, and the ZIP comment. Throws ZipError when the file is not a readable ZIP. */
export async function openZip(blob) {
  const size = blob.size;
  if (size < 22) throw new ZipError("too short to be a ZIP file");
  const tailStart = Math.max(0, size - (22 + 0xffff + 20));
  const tail = await bytesOf(blob, tailStart, size);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06
        && i + 22 + u16(tail, i + 20) === tail.length) { at = i; break; }
  }
  if (at < 0) throw new ZipError("no end of central directory record: not a ZIP file");
  let count = u16(tail, at + 10);
  let cdSize = u32(tail, at + 12);
  let cdOffset = u32(tail, at + 16);
  const comment = new TextDecoder("latin1").decode(tail.subarray(at + 22, at + 22 + u16(tail, at + 20)));
  if (u16(tail, at + 4) !== 0 || u16(tail, at + 6) !== 0) throw new ZipError("a multi-disk ZIP file");
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = at - 20;
    if (loc < 0 || u32(tail, loc) !== 0x07064b50) throw new ZipError("ZIP64 end of central directory locator missing");
    const eocd64 = await bytesOf(blob, u64(tail, loc + 8), u64(tail, loc + 8) + 56);
    if (u32(eocd64, 0) !== 0x06064b50) throw new ZipError("ZIP64 end of central directory record missing");
    count = u64(eocd64, 32);
    cdSize = u64(eocd64, 40);
    cdOffset = u64(eocd64, 48);
  }
  const cd = await bytesOf(blob, cdOffset, cdOffset + cdSize);
  const names = new TextDecoder("utf-8", { fatal: true });
  const members = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || u32(cd, p) !== 0x02014b50) throw new ZipError("bad central directory entry");
    const flags = u16(cd, p + 8);
    const nameLen = u16(cd, p + 28), extraLen = u16(cd, p + 30), commentLen = u16(cd, p + 32);
    const m = {
      flags, method: u16(cd, p + 10), crc: u32(cd, p + 16),
      compressedSize: u32(cd, p + 20), size: u32(cd, p + 24), offset: u32(cd, p + 42),
    };
    let name;
    try { name = names.decode(cd.subarray(p + 46, p + 46 + nameLen)); } catch { throw new ZipError("a member name is not UTF-8"); }
    m.name = name;
    // ZIP64 extended information: the 8-byte values of the fields set to 0xFFFFFFFF, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(cd, e), len = u16(cd, e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (m.size === 0xffffffff) { m.size = u64(cd, q); q += 8; }
        if (m.compressedSize === 0xffffffff) { m.compressedSize = u64(cd, q); q += 8; }
        if (m.offset === 0xffffffff) { m.offset = u64(cd, q); q += 8; }
      }
      e += 4 + len;
    }
    members.push(m);
    p = extraEnd + commentLen;
  }
  return { members, comment };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes, crc = 0) {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** A ReadableStream of a member's uncompressed bytes; it errors (ZipError) when the member cannot be
 * inflated, or its size or CRC-32 is not the central directory's. */
export async function memberStream(blob, member) {
  if (member.flags & 1) throw new ZipError(`${member.name}: encrypted`);
  const local = await bytesOf(blob, member.offset, member.offset + 30);
  if (u32(local, 0) !== 0x04034b50) throw new ZipError(`${member.name}: no local header`);
  const start = member.offset + 30 + u16(local, 26) + u16(local, 28);
  let stream = blob.slice(start, start + member.compressedSize).stream();
  if (start + member.compressedSize > blob.size) throw new ZipError(`${member.name}: cut short`);
  if (member.method === 8) stream = stream.pipeThrough(new DecompressionStream("deflate-raw"));
  else if (member.method !== 0) throw new ZipError(`${member.name}: compression method ${member.method} is not supported`);
  let crc = 0, length = 0;
  const check = new TransformStream({
    transform(chunk, controller) {
      crc = crc32(chunk, crc);
      length += chunk.length;
      if (length > member.size) { controller.error(new ZipError(`${member.name}: longer than its stated size`)); return; }
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (length !== member.size) controller.error(new ZipError(`${member.name}: ${length} bytes, ${member.size} stated`));
      else if (crc !== member.crc) controller.error(new ZipError(`${member.name}: CRC-32 mismatch (corrupt member)`));
    },
  });
  return stream.pipeThrough(check);
}

/** A member's whole uncompressed bytes (small members: the manifest, the keys, the CSV of checkpoints). */
export async function readMember(blob, member) {
  const reader = (await memberStream(blob, member)).getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    let step;
    try { step = await reader.read(); } catch (err) { throw err instanceof ZipError ? err : new ZipError(`${member.name}: cannot be inflated (${err.message})`); }
    if (step.done) break;
    parts.push(step.value);
    total += step.value.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) { out.set(part, o); o += part.length; }
  return out;
}
