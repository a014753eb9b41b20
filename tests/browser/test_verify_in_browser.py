"""Verifying an export archive in the browser (console/js/verify/, screen ``#/verify-export``): a real
export, verified from its job card ("Verify here") and from a file chosen without signing in, then
anchored to ``GET /v1/keys`` or to keys the user gives (a keys.json file, pasted fingerprints; unrelated
keys refused as key_not_trusted, malformed input named); tampered copies built here from the real
archive, each found and named (first bad file, chain and seq, as docs/hash-format.md section 5 predicts); the JavaScript
canonical form, hashes, Merkle roots and signatures against every vector of tests/vectors/."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.browser.conftest import accessible, new_page, shot, sign_in
from tests.support.bodies import business_today, sale_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SALES = 5
TAMPERED = 3  # the seq of the record the tamper cases change (not the chain's last)


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict) -> str:
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return out.getvalue()


def exported(console, account) -> tuple[dict, bytes]:
    """Today's fiscal archive of ``account``'s company, built by the real service: (job, bytes)."""
    tenant = account["tenant_id"]
    today = business_today()
    status, job = console.call("POST", f"/v1/tenants/{tenant}/exports",
                               {"format": "fiscal", "from": today, "to": today}, token=account["token"],
                               headers={"Idempotency-Key": f"verify-{uuid.uuid4().hex}"})
    assert status in (201, 202), job
    deadline = time.monotonic() + 60
    while True:
        status, state = console.call("GET", f"/v1/tenants/{tenant}/exports/{job['job_id']}", token=account["token"])
        assert status == 200, state
        if state["status"] == "done":
            break
        assert state["status"] in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.3)
    with urllib.request.urlopen(state["download"]["url"], timeout=30) as resp:
        data = resp.read()
    assert hashlib.sha256(data).hexdigest() == state["download"]["sha256"]
    return state, data


@pytest.fixture(scope="module")
def export(console):
    """A test-mode company with a few sales, and its fiscal archive (built by the real service)."""
    account = console.account(company_name="Boulangerie Vérifiée")
    tenant = account["tenant_id"]
    for _ in range(SALES):
        status, out = console.call("POST", f"/v1/tenants/{tenant}/sales", sale_body(), token=account["token"])
        assert status == 201, out
    state, data = exported(console, account)
    files = members(data)
    chain = "test.sales.R1"
    assert len(files[f"records/{chain}.jsonl"].splitlines()) >= SALES
    return {"account": account, "data": data, "files": files, "chain": chain, "name": state["download"]["file_name"]}


def choose(page, name: str, data: bytes) -> None:
    page.set_input_files("#vx-file", files=[{"name": name, "mimeType": "application/zip", "buffer": data}])


def verdict(page, status: str) -> str:
    page.wait_for_selector(f"#vx-verdict[data-status='{status}']", timeout=30_000)
    return page.inner_text("#vx-verdict")


def test_a_real_export_is_verified_from_its_job_card_and_anchored_to_the_published_keys(page, console):
    account = console.account(company_name="Épicerie du Contrôle")
    for _ in range(2):
        status, out = console.call("POST", f"/v1/tenants/{account['tenant_id']}/sales", sale_body(),
                                   token=account["token"])
        assert status == 201, out
    sign_in(page, account["body"]["email"], account["body"]["password"])
    assert "Verify an export" in page.inner_text("#nav")
    page.click("#nav a:has-text('Exports')")
    page.click("#export-submit")
    page.wait_for_selector("#export-jobs .job[data-status='done'] button.verify-here", timeout=30_000)
    page.click("#export-jobs button.verify-here")
    text = verdict(page, "unanchored")
    assert "Unanchored" in text and "come from the archive itself" in text
    assert "records checked" in page.inner_text(".vx-job .vx-status")
    page.click("#vx-anchor")
    text = verdict(page, "verified")
    assert "Verified" in text and "is one of the keys this platform publishes" in text
    assert page.locator(".vx-chains tr[data-ok='false']").count() == 0
    accessible(page, "exports, verified from its job card")
    assert page.locator(".vx-chains tbody tr").count() >= 2  # test.sales.R1 and events
    shot(page, "40-verify-from-job-card")  # axe runs on the verify screen below (this is the exports screen)
    assert page.js_errors == []


def test_a_production_archive_is_summed_up_in_the_readers_language_with_nothing_stray(browser, console):
    """A fiscal archive showed a bare "null" under its summary (where a test archive's NOT FISCAL
    note goes), and the summary gave the kind and dates raw ("archive fiscal", 2026-…Z)."""
    account = console.account(company_name="Fromagerie en Production")
    tenant = account["tenant_id"]
    status, out = console.call("POST", f"/v1/tenants/{tenant}/go-live", {"confirm": True}, token=account["token"])
    assert status == 200, out
    status, out = console.call("POST", f"/v1/tenants/{tenant}/sales", sale_body(), token=account["token"])
    assert status == 201, out
    state, data = exported(console, account)
    context, page = new_page(browser, console, locale="fr-BE")
    try:
        page.goto("/#/verify-export")
        choose(page, state["download"]["file_name"], data)
        verdict(page, "unanchored")
        summary = page.inner_text(".vx-summary")
        assert "Archive fiscale" in summary and "Fromagerie en Production" in summary, summary
        assert not re.search(r"\d{4}-\d{2}-\d{2}", summary), summary  # dates in words, no ISO date nor instant
        main = page.inner_text("main")
        assert not re.search(r"\bnull\b", main) and "Données de formation" not in main, main
        assert page.js_errors == []
    finally:
        context.close()


def test_without_signing_in_a_chosen_archive_is_verified_then_anchored(browser, console, export):
    context, page = new_page(browser, console)
    try:
        page.goto("/")
        page.click("#nav a:has-text('Verify an export')")
        page.wait_for_selector("h1:has-text('Verify an export archive')")
        assert "scelle verify" in page.inner_text("main")
        choose(page, export["name"], export["data"])
        text = verdict(page, "unanchored")
        assert "Nothing is wrong inside the archive" in text
        total = sum(len(export["files"][f"records/{c}.jsonl"].splitlines())
                    for c in [export["chain"], "events"])
        assert f"{total} of {total} records checked" in page.inner_text("#vx-status")
        assert "NOT FISCAL" in page.inner_text("main")
        assert page.locator(f".vx-chains tr[data-chain='{export['chain']}'][data-ok='true']").count() == 1
        assert page.get_attribute("#vx-guide-link", "download") == "auditor-guide.en.md"
        shot(page, "41-verify-unanchored")
        accessible(page, "verify an export, unanchored")
        page.click("#vx-anchor")
        assert "is one of the keys this platform publishes" in verdict(page, "verified")
        shot(page, "42-verify-anchored")
        accessible(page, "verify an export, anchored")
        # In French and Dutch too.
        page.select_option("#lang", "fr")
        page.wait_for_selector("h1:has-text('Vérifier une archive')")
        choose(page, export["name"], export["data"])
        assert "Non ancrée" in verdict(page, "unanchored")
        page.select_option("#lang", "nl")
        page.wait_for_selector("h1:has-text('Een exportarchief controleren')")
        assert page.js_errors == []
    finally:
        context.close()


def _signing_key(export) -> tuple[str, str]:
    """The key id and the SHA-256 fingerprint (of the DER public key) of the key that signs the manifest."""
    from cryptography.hazmat.primitives import serialization

    key_id = json.loads(export["files"]["manifest.json"])["signature"]["key_id"]
    entry = next(k for k in json.loads(export["files"]["keys/keys.json"])["keys"] if k["key_id"] == key_id)
    der = serialization.load_pem_public_key(export["files"][entry["file"]]).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key_id, hashlib.sha256(der).hexdigest()


def _unrelated_keys() -> bytes:
    """A keys.json in the shape of GET /v1/keys, of a P-256 key made here (signs nothing of Scellé's)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return json.dumps({"keys": [{"key_id": "local:signing:0123456789abcdef", "role": "log", "public_key_pem": pem,
                                 "not_before": "2020-01-01T00:00:00Z", "not_after": None}]}).encode()


def trusted_file(page, name: str, data: bytes, mime: str = "application/json") -> None:
    page.set_input_files("#vx-trust-file", files=[{"name": name, "mimeType": mime, "buffer": data}])


def _opened(browser, console, export):
    context, page = new_page(browser, console)
    page.goto("/#/verify-export")
    choose(page, export["name"], export["data"])
    verdict(page, "unanchored")
    return context, page


def test_an_archive_is_anchored_with_the_published_keys_chosen_as_a_file(browser, console, export):
    with urllib.request.urlopen(console.base + "/v1/keys", timeout=30) as resp:
        published = resp.read()
    key_id, fp = _signing_key(export)
    context, page = _opened(browser, console, export)
    try:
        assert page.locator("label[for='vx-trust-file']").count() == 1
        assert page.locator("label[for='vx-trust-text']").count() == 1
        trusted_file(page, "keys.json", published)
        text = verdict(page, "verified")
        assert "every key that signs the archive is one of the keys you trust" in text
        assert f"Anchored: {key_id} (sha256:{fp}) matches {key_id} in keys.json." in text
        assert "log key(s) from keys.json" in page.inner_text("#vx-trust-result")
        assert page.inner_text("#vx-trust-error") == ""
        shot(page, "44-verify-trusted-keys")
        accessible(page, "verify an export, anchored to keys I trust")
        assert page.js_errors == []
    finally:
        context.close()


def test_an_archive_is_anchored_with_a_pasted_fingerprint_using_the_keyboard_alone(browser, console, export):
    key_id, fp = _signing_key(export)
    other = hashlib.sha256(b"another key").hexdigest()
    colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()  # as openssl prints it
    context, page = _opened(browser, console, export)
    try:
        page.focus("#vx-trust-text")
        page.keyboard.type(f"sha256:{other}\n{colons}")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "vx-trust-compare"
        page.keyboard.press("Enter")
        text = verdict(page, "verified")
        assert f"Anchored: {key_id} (sha256:{fp}) matches sha256:{fp} (line 2 of The pasted text)." in text
        assert page.js_errors == []
    finally:
        context.close()


def test_keys_that_do_not_sign_the_archive_refuse_it_as_key_not_trusted(browser, console, export):
    key_id, fp = _signing_key(export)
    context, page = _opened(browser, console, export)
    try:
        trusted_file(page, "other-keys.json", _unrelated_keys())
        text = verdict(page, "tampered")
        assert "Not signed by a key you trust" in text
        assert f"Key {key_id} (sha256:{fp}), which signs " in text and "(key_not_trusted)" in text
        assert "Verified" not in text
        accessible(page, "verify an export, key not trusted")
        assert page.js_errors == []
    finally:
        context.close()


def test_malformed_trusted_keys_are_named_and_change_nothing(browser, console, export):
    _, fp = _signing_key(export)
    context, page = _opened(browser, console, export)
    try:
        cases = [
            ("paste", "garbage text",
             "not a key list (JSON), a PEM public key nor a fingerprint: line 1 reads “garbage text”"),
            ("paste", f"sha256:{fp}\nsha256:xyz", "line 2, “sha256:xyz”, is not a SHA-256 fingerprint"),
            ("paste", f"sha256:{fp[:63]}", "line 1 has 63 hexadecimal digits, an odd number"),
            ("paste", f"sha256:{fp[:16]}", "line 1 has 16 hexadecimal digits, too few to trust"),
            ("paste", "", "it is empty"),
            ("file", "not json at all {", "keys.json cannot be used: it is not a key list (JSON)"),
            ("file", '{"keys": [', "keys.json cannot be used: it is not valid JSON"),
            ("file", '{"fingerprints": []}', "it has no \"keys\" list"),
            ("file", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
             "PEM block 1 is not an ECDSA P-256"),
        ]
        for status in ("unanchored", "verified"):
            for how, value, named in cases:
                if how == "paste":
                    page.fill("#vx-trust-text", value)
                    page.click("#vx-trust-compare")
                    field = "#vx-trust-text"
                else:
                    trusted_file(page, "keys.json", value.encode())
                    field = "#vx-trust-file"
                page.wait_for_selector("#vx-trust-error .notice.error")
                message = page.inner_text("#vx-trust-error")
                assert named in message and "the verdict is unchanged" in message, (value, message)
                assert page.get_attribute(field, "aria-invalid") == "true"
                assert page.get_attribute("#vx-verdict", "data-status") == status, value
                page.evaluate("document.getElementById('vx-trust-error').replaceChildren()")
            if status == "unanchored":  # then the same inputs after a good comparison
                page.fill("#vx-trust-text", f"sha256:{fp}")
                page.click("#vx-trust-compare")
                verdict(page, "verified")
                assert page.inner_text("#vx-trust-error") == ""
        assert page.js_errors == []
    finally:
        context.close()


def _tampered(export, case: str) -> tuple[bytes, list[str]]:
    """A tampered copy of the real archive, and what the verdict must name."""
    files = dict(export["files"])
    chain = export["chain"]
    path = f"records/{chain}.jsonl"
    lines = files[path].split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]
    k = TAMPERED - 1
    if case == "amount_rehashed":
        # Content changed and its hash recomputed: the record verifies on its own, the next one's
        # prev_hash no longer links to it (hash-format.md section 2, "Chain").
        records[k]["data"]["totals"]["incl"] += 100
        records[k]["hash"] = record_hash(records[k])
        lines[k] = canonical(records[k])
        files[path] = b"\n".join(lines) + b"\n"
        return rezip(files), ["does not link to the previous one", f"{chain} seq {TAMPERED + 1}", records[k]["hash"]]
    if case == "chain_rewritten":
        # Content changed and every later record rehashed and relinked: only the signed Merkle
        # root catches it, at the first checkpoint covering the change (section 3 and 5).
        records[k]["data"]["totals"]["incl"] += 100
        for i in range(k, len(records)):
            if i > k:
                records[i]["prev_hash"] = records[i - 1]["hash"]
            records[i]["hash"] = record_hash(records[i])
        files[path] = b"".join(canonical(r) + b"\n" for r in records)
        sizes = json.loads(files["manifest.json"])["chains"]
        size = min(s for c in sizes if c["chain"] == chain for s in c["checkpoint_sizes"] if s >= TAMPERED)
        return rezip(files), ["do not give the signed Merkle root", f"{chain} seq {size}", "checkpoints.csv"]
    if case == "amount_not_rehashed":
        records[k]["data"]["totals"]["incl"] += 100
        lines[k] = canonical(records[k])
        files[path] = b"\n".join(lines) + b"\n"
        return rezip(files), ["does not match its hash", f"{chain} seq {TAMPERED}", record_hash(records[k])]
    if case == "file_added":
        files["extra-receipts.csv"] = b"\xef\xbb\xbfnothing;here\r\n"
        return rezip(files), ["a file was added", "extra-receipts.csv"]
    if case == "signature_flipped":
        rows = files["checkpoints.csv"].decode("utf-8-sig").split("\r\n")
        index = next(i for i, row in enumerate(rows) if row.startswith(chain + ";"))
        cells = rows[index].split(";")
        signature = bytearray(base64.b64decode(cells[5]))
        signature[12] ^= 0x01
        cells[5] = base64.b64encode(bytes(signature)).decode()
        rows[index] = ";".join(cells)
        files["checkpoints.csv"] = ("\ufeff" + "\r\n".join(rows)).encode()
        return rezip(files), ["a signature does not verify", f"{chain} seq {cells[1]}", "checkpoints.csv"]
    if case == "record_removed":
        del lines[k]
        files[path] = b"\n".join(lines) + b"\n"
        return rezip(files), ["a record is missing", f"{chain} seq {TAMPERED}"]
    if case == "records_dropped_and_resigned":
        # The chain's records file taken out of the archive and of the manifest's files, the
        # manifest signed again by a key the forger adds: every listed file and signature holds,
        # but none of the chain's records was checked, which is itself the failure.
        return _resigned_without(files, path), ["a file is missing", path, chain]
    raise AssertionError(case)


def _resigned_without(files: dict[str, bytes], path: str) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    forger = ec.generate_private_key(ec.SECP256R1())
    pem = forger.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    files = {name: body for name, body in files.items() if name != path}
    files["keys/forger.pem"] = pem
    keys = json.loads(files["keys/keys.json"])
    keys["keys"].append({"key_id": "forger", "role": "log", "file": "keys/forger.pem",
                         "not_before": "2020-01-01T00:00:00.000000Z", "not_after": None})
    files["keys/keys.json"] = json.dumps(keys).encode()
    manifest = json.loads(files["manifest.json"])
    listed = [f for f in manifest["files"] if f["path"] != path]
    listed.append({"path": "keys/forger.pem", "sha256": hashlib.sha256(pem).hexdigest(), "bytes": len(pem)})
    for entry in listed:
        entry["sha256"] = hashlib.sha256(files[entry["path"]]).hexdigest()
        if "bytes" in entry:
            entry["bytes"] = len(files[entry["path"]])
    manifest["files"] = listed
    manifest["signature"]["key_id"] = "forger"
    files["manifest.json"] = json.dumps(manifest).encode()
    files["manifest.sig"] = forger.sign(files["manifest.json"], ec.ECDSA(hashes.SHA256()))
    return rezip(files)


@pytest.mark.parametrize("case", ["amount_rehashed", "chain_rewritten", "amount_not_rehashed", "file_added",
                                  "signature_flipped", "record_removed", "records_dropped_and_resigned"])
def test_a_tampered_archive_is_refused_and_its_first_bad_entry_named(browser, console, export, case):
    data, named = _tampered(export, case)
    context, page = new_page(browser, console)
    try:
        page.goto("/#/verify-export")
        choose(page, "tampered.zip", data)
        text = verdict(page, "tampered")
        for fragment in named:
            assert fragment in text, (case, fragment, text)
        assert page.locator("#vx-anchor").count() == 0  # nothing to anchor
        if case == "amount_not_rehashed":
            shot(page, "43-verify-tampered")
            accessible(page, "verify an export, tampered")
        assert page.js_errors == []
    finally:
        context.close()


def test_a_file_that_is_no_scelle_export_is_said_so(browser, console, export):
    context, page = new_page(browser, console)
    try:
        page.goto("/#/verify-export")
        choose(page, "photos.zip", rezip({"holiday.txt": b"not an export"}))
        assert "no manifest.json" in verdict(page, "invalid")
        choose(page, "notes.zip", b"PK but not a zip at all")
        assert "Not a Scell" in verdict(page, "invalid")
        files = dict(export["files"])
        manifest = json.loads(files["manifest.json"])
        files["manifest.json"] = json.dumps({**manifest, "format": "other/v9"}).encode()
        choose(page, "other.zip", rezip(files))
        assert "other/v9" in verdict(page, "invalid")
        assert page.js_errors == []
    finally:
        context.close()


# The in-browser verifier's modules against the vectors, run in the console's page.
JS_VECTORS = (Path(__file__).parent / "verify_vectors.js").read_text(encoding="utf-8").split("\n", 2)[2]


def test_the_javascript_verifier_agrees_with_every_hash_vector(page):
    hashing = json.loads((VECTORS / "hashing.json").read_text())
    real = json.loads((VECTORS / "records.json").read_text())
    rows = []
    for step in real["steps"]:
        for item in step["records"]:
            record = item["record"]
            rows.append({"record_json": json.dumps(record), "canonical": item["canonical"], "hash": item["hash"],
                         "key": f"step {step['step']} {record['chain']} {record['seq']}",
                         "chain_key": f"{record['tenant_id']}#{record['chain']}"})
    vectors = {
        "hashing": {"records": [{"desc": r["desc"], "record_json": json.dumps(r["record"]), "canonical": r["canonical"],
                                 "hash": r["hash"]} for r in hashing["records"]],
                    "canonical": hashing["canonical"]},
        "real": rows,
        "chains": [{"key": f"{c['tenant_id']}#{c['chain']}", "size": c["size"], "merkle_root": c["merkle_root"]}
                   for c in real["chains"]],
        "merkle": json.loads((VECTORS / "merkle-inclusion.json").read_text()),
        "checkpoints": json.loads((VECTORS / "checkpoints.json").read_text()),
    }
    page.goto("/#/verify-export")
    page.wait_for_selector("#vx-file")
    out = page.evaluate(JS_VECTORS, vectors)
    assert out["fails"] == []
    expected = (len(hashing["records"]) + len(hashing["canonical"]) + len(rows) + len(real["chains"])
                + len(vectors["merkle"]["roots"]) + len(vectors["checkpoints"]["valid"]))
    assert out["checked"] >= expected and len(rows) > 100
    assert out["bigHash"] == hashlib.sha256(b'{"a":9007199254740993,"b":-9223372036854775808}').hexdigest()
    assert page.js_errors == []
