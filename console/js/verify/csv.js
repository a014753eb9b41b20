// The CSV dialect of docs/export-format.md section 9 (UTF-8 with BOM, ";", CRLF after every row,
// minimal RFC 4180 quoting), read strictly. Pure: no DOM.

export class CsvError extends Error {}

/** Rows of cells (the header included) of a whole CSV file's bytes. */
export function parseCsv(bytes) {
  if (bytes[0] !== 0xef || bytes[1] !== 0xbb || bytes[2] !== 0xbf) throw new CsvError("no UTF-8 byte-order mark");
  let text;
  try { text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(3)); } catch { throw new CsvError("not UTF-8"); }
  const rows = [];
  let row = [], cell = "", i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      cell += c; i++; continue;
    }
    if (c === '"' && cell === "") { quoted = true; i++; continue; }
    if (c === ";") { row.push(cell); cell = ""; i++; continue; }
    if (c === "\r") {
      if (text[i + 1] !== "\n") throw new CsvError(`a CR without LF in row ${rows.length + 1}`);
      row.push(cell); rows.push(row); row = []; cell = ""; i += 2; continue;
    }
    if (c === "\n") throw new CsvError(`a line feed without CR in row ${rows.length + 1}`);
    cell += c; i++;
  }
  if (quoted) throw new CsvError("unterminated quoted cell");
  if (cell !== "" || row.length) throw new CsvError("the last row does not end with CRLF");
  return rows;
}
