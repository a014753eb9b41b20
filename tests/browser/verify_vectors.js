// Run by test_verify_in_browser.py in the console's page (page.evaluate): the in-browser verifier's
// modules against every vector of tests/vectors/, passed in as `v`.
(async (v) => {
  const json = await import("/console/js/verify/json.js");
  const sha = await import("/console/js/verify/sha256.js");
  const merkle = await import("/console/js/verify/merkle.js");
  const sig = await import("/console/js/verify/signatures.js");
  const records = await import("/console/js/verify/records.js");
  const archive = await import("/console/js/verify/archive.js");
  const utf8 = new TextEncoder();
  const fails = [];
  let checked = 0;
  const hashOf = async (text) => sha.toHex(await sha.sha256(utf8.encode(text)));
  // hashing.json: the frozen records, and the canonical-form cases.
  for (const r of v.hashing.records) {
    const value = json.parse(r.record_json);
    delete value.hash;
    const c = json.canonical(value);
    if (c !== r.canonical) fails.push(["hashing canonical", r.desc, c]);
    if (await hashOf(c) !== r.hash) fails.push(["hashing hash", r.desc]);
    checked++;
  }
  for (const c of v.hashing.canonical) {
    let got;
    try { got = json.canonical(json.parse(c.value_json)); } catch (err) { got = err; }
    if (c.want_err ? !(got instanceof json.JsonError) : got !== c.canonical) fails.push(["canonical case", c.desc, String(got)]);
    checked++;
  }
  // records.json: every real record, line by line as an export holds it, and every chain's root.
  const chains = {};
  for (const r of v.real) {
    const line = json.canonical(json.parse(r.record_json));
    let out;
    try { out = records.checkLine(line); } catch (err) { fails.push(["real checkLine", r.key, err.message]); continue; }
    if (out.hashInput !== r.canonical) fails.push(["real canonical", r.key]);
    if (await hashOf(out.hashInput) !== r.hash || out.hash !== r.hash) fails.push(["real hash", r.key]);
    (chains[r.chain_key] ||= []).push([out.seq, out.hash]);
    checked++;
  }
  for (const c of v.chains) {
    const list = (chains[c.key] || []).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
    if (list.length !== c.size || merkle.rootOf(list) !== c.merkle_root) fails.push(["chain root", c.key]);
    checked++;
  }
  // merkle-inclusion.json: the roots of sizes 0..17 from the RFC 6962 leaves.
  v.merkle.roots.forEach((root, n) => {
    if (merkle.rootOfLeafInputs(v.merkle.leaf_inputs.slice(0, n)) !== root) fails.push(["merkle root", n]);
    checked++;
  });
  // checkpoints.json: the signed checkpoint verifies with WebCrypto, and fails once changed.
  const key = await sig.importKey(sig.pemToDer(v.checkpoints.public_key_pem));
  for (const c of v.checkpoints.valid) {
    const body = archive.checkpointBody("acme-bakery", { chain: "prod.sales.R1", size: c.size, root: c.root, timestamp: c.timestamp, keyId: v.checkpoints.key_id });
    if (body !== c.signed_message) fails.push(["checkpoint body", c.desc]);
    const der = sig.base64ToBytes(c.text.trim().split("\n").pop());
    if (sha.toHex(der) !== c.signature_der_hex) fails.push(["checkpoint der", c.desc]);
    if (!(await sig.verifyDer(key, der, utf8.encode(c.signed_message)))) fails.push(["checkpoint signature", c.desc]);
    if (await sig.verifyDer(key, der, utf8.encode(c.signed_message.replace("\n8\n", "\n9\n")))) fails.push(["checkpoint forged", c.desc]);
    checked++;
  }
  // The incremental SHA-256 (file digests, Merkle nodes) against WebCrypto, around block boundaries.
  for (let n = 0; n < 300; n += n < 140 ? 1 : 37) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
    const whole = sha.toHex(await sha.sha256(bytes));
    const h = new sha.Sha256();
    h.update(bytes.subarray(0, n >> 1)); h.update(bytes.subarray(n >> 1));
    if (sha.toHex(h.digest()) !== whole || sha.toHex(sha.sha256Sync(bytes)) !== whole) fails.push(["sha256", n]);
    checked++;
  }
  // Integers beyond 2^53 keep every digit (JSON.parse would round them), and the hash is theirs.
  const big = '{"a":9007199254740993,"b":-9223372036854775808}';
  const parsed = json.parse(big);
  if (typeof parsed.a !== "bigint" || json.canonical(parsed) !== big) fails.push(["big integers", json.canonical(parsed)]);
  return { fails, checked, bigHash: await hashOf(json.canonical(parsed)) };
})
