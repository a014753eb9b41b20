"""Exports carry the witness's cosignatures and `scelle verify` checks them (decision 0024, item 6).

The export signs a checkpoint at each chain's head and has the independent witness co-sign it;
the archive carries every kept cosignature up to the exported end (``cosignatures.csv``) and the
witness's public key (``keys/``, ``"role": "witness"``). ``scelle verify`` rebuilds each
cosignature, checks it against the checkpoint of the same chain and size and the witness key,
and ``--witness-key`` anchors an export like ``--trusted-key`` does (decision 0018).

The forgeries are made by an insider who holds the log's signing key (the platform operator):
they re-sign the manifest with the real key, so every file hash matches and only the witness
checks can catch them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import zipfile
from datetime import date

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.cli import main as scelle
from chalicelib.commands.export_sample import MemoryStack, _lines_total, _pay, _sale
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import chain_key
from chalicelib.domain.witness import Cosignature
from chalicelib.verify_export import format as fmt
from chalicelib.verify_export import verify_archive
from chalicelib.verify_export.verifier import fingerprint, load_trusted_keys
from tests.support.archives import csv_bytes, csv_rows, members, signed

FIRST_DAY, LAST_DAY = date(2026, 2, 1), date(2026, 2, 28)
R1 = "prod.sales.R1"
LATER = 3  # receipts on R1 after the schedule's cosignatures: R1 is then co-signed at two sizes


def cosign_every_chain(stack: MemoryStack) -> None:
    """What the scheduled signer does every 5 minutes: sign each chain's head, have it co-signed."""
    tenant = stack.tenant.tenant_id
    for chain in stack.directory.chains(tenant):
        store, service = ((stack.events_store, stack.events_checkpoints) if chain == fmt.EVENTS_CHAIN
                          else (stack.journal, stack.checkpoints))
        if service.checkpoint(tenant, chain) is not None:
            assert stack.witness_submitter.submit(tenant, chain, store) is not None


def record_sales(stack: MemoryStack, count: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        stack.clock.advance(120)
        request = _sale(rng, stack.clock, "R1")
        _pay(request, _lines_total(request), rng)
        stack.ledger.record_sale(stack.caller, request, None)
    stack.deriver.catch_up(stack.tenant.tenant_id, [R1])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three days of trade, the schedule's cosignatures, three more receipts on R1, the export
    (which signs and has co-signed each chain's head)."""
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR")
    stack.trade(days=3, sales_per_day=20)
    cosign_every_chain(stack)
    record_sales(stack, LATER)
    job, data = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "done", job
    stack.archive = data
    stack.key_dir = tmp_path_factory.mktemp("attacker")
    return stack


# ---- reading and forging archives ------------------------------------------------------------------------
def resign(data: bytes, signer, *, change=None, drop=()) -> bytes:
    """The archive with ``change`` ({member: new bytes}) applied and ``drop`` removed, the manifest's
    file list brought up to date (SHA-256, bytes) and signed again by ``signer`` (the log's key)."""
    files = {name: body for name, body in members(data).items() if name not in drop}
    files.update(change or {})
    manifest = json.loads(files[fmt.MANIFEST])
    manifest["files"] = [entry for entry in manifest["files"] if entry["path"] not in drop]
    for entry in manifest["files"]:
        body = files[entry["path"]]
        entry.update(sha256=hashlib.sha256(body).hexdigest(), bytes=len(body))
    return signed(files, manifest, signer)


def verify(tmp_path, data: bytes, *, trusted=(), witness=()):
    path = tmp_path / f"export{random.getrandbits(24)}.zip"
    path.write_bytes(data)
    report = verify_archive(path, trusted_keys=load_trusted_keys(trusted) if trusted else None,
                            witness_keys=load_trusted_keys(witness) if witness else None)
    return report, path


def log_print(world) -> str:
    return "sha256:" + fingerprint(world.signer.public_key_pem())


def witness_print(world) -> str:
    return "sha256:" + fingerprint(world.witness.public_key_pem())


def witness_file(world) -> str:
    return fmt.key_file(world.witness.key_id)


def attacker_key():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem


def checkpoints_of(world, files) -> dict[tuple[str, int], Checkpoint]:
    found = {}
    for row in csv_rows(files[fmt.CHECKPOINTS])[1:]:
        checkpoint = fmt.checkpoint_from_row(chain_key(world.tenant.tenant_id, row[0]), row)
        found[(row[0], checkpoint.size)] = checkpoint
    return found


# ---- the untouched export -----------------------------------------------------------------------------
def test_an_export_carries_a_cosignature_of_every_chains_newest_checkpoint_and_the_witness_key(world):
    files = members(world.archive)
    manifest = json.loads(files[fmt.MANIFEST])
    rows = csv_rows(files[fmt.COSIGNATURES])
    assert rows[0] == ["chaine", "taille", "racine", "cle_temoin", "horodatage_utc", "signature"]
    sizes: dict[str, list[int]] = {}
    for row in rows[1:]:
        sizes.setdefault(row[0], []).append(int(row[1]))
        assert row[3] == world.witness.key_id
    ends = {c["chain"]: c["last_seq"] for c in manifest["chains"]}
    assert list(sizes) == [c["chain"] for c in manifest["chains"]]  # every chain, in the archive's order
    assert {chain: found[-1] for chain, found in sizes.items()} == ends  # the exported end is co-signed
    assert sizes[R1] == [ends[R1] - LATER, ends[R1]] and all(s == sorted(s) for s in sizes.values())
    checkpoints = checkpoints_of(world, files)
    assert all(checkpoints[(row[0], int(row[1]))].root == row[2] for row in rows[1:])

    keys = json.loads(files[fmt.KEYS_INDEX])["keys"]
    assert [(k["key_id"], k["role"]) for k in keys] == [(world.signer.key_id, "log"),
                                                         (world.witness.key_id, "witness")]
    assert files[witness_file(world)].decode() == world.witness.public_key_pem()
    assert manifest["witness_keys"] == [world.witness.key_id]
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert listed[fmt.COSIGNATURES]["rows"] == len(rows) - 1
    assert listed[fmt.COSIGNATURES]["sha256"] == hashlib.sha256(files[fmt.COSIGNATURES]).hexdigest()
    assert witness_file(world) in listed
    assert b"cosignatures.csv" in files[fmt.README_EN] and b"--witness-key" in files[fmt.README_FR]


def test_it_verifies_and_reports_the_witnessed_sizes_unanchored_without_an_anchor(world, tmp_path, capsys):
    report, path = verify(tmp_path, world.archive)
    assert report.ok and report.status == "unanchored" and report.exit_code == 3, report.text()
    chains = {c["chain"]: c["witness"] for c in report.chains}
    assert all(w["newest_cosigned"] and w["newest_cosigned_by"] == [world.witness.key_id] and not w["anchored"]
               for w in chains.values())
    assert chains[R1]["sizes"] == sorted(chains[R1]["sizes"]) and len(chains[R1]["sizes"]) == 2
    assert report.witness["cosignatures"] == sum(len(w["sizes"]) for w in chains.values())

    assert scelle(["verify", str(path)]) == 3
    out = capsys.readouterr().out
    assert f"witness   {R1}: co-signed at {chains[R1]['sizes'][0]}, {chains[R1]['sizes'][1]}; newest checkpoint " \
           f"(size {chains[R1]['sizes'][1]}) co-signed by {world.witness.key_id}" in out
    assert f"unanchored: witness key {world.witness.key_id} ({witness_print(world)})" in out
    assert "--witness-key" in out and "RESULT: UNANCHORED" in out

    assert scelle(["verify", "--json", str(path)]) == 3
    data = json.loads(capsys.readouterr().out)
    assert {k["key_id"]: k["role"] for k in data["keys"]} == {world.signer.key_id: "log",
                                                              world.witness.key_id: "witness"}
    assert data["witness"]["present"] and not data["witness"]["given"]
    assert next(c for c in data["chains"] if c["chain"] == R1)["witness"]["newest_cosigned"] is True


def test_the_witness_key_anchors_the_export_without_the_log_key(world, tmp_path, capsys):
    _, path = verify(tmp_path, world.archive)
    pem = tmp_path / "witness.pem"
    pem.write_text(world.witness.public_key_pem())
    digits = fingerprint(world.witness.public_key_pem())
    for anchor in (witness_print(world), digits.upper(), digits[:32], str(pem)):
        assert scelle(["verify", "--witness-key", anchor, str(path)]) == 0, anchor
        out = capsys.readouterr().out
        assert "RESULT: OK" in out and "co-signed by a witness key you gave" in out
        assert "(anchors it)" in out and f"log's key {world.signer.key_id}" in out and "is not pinned" in out
    report, _ = verify(tmp_path, world.archive, witness=[witness_print(world)])
    assert (report.status, report.exit_code, report.anchored) == ("verified", 0, True)
    assert all(c["witness"]["anchored"] and c["witness"]["anchored_by"] == [world.witness.key_id]
               for c in report.chains)
    assert report.witness["anchored_by_witness"] and not report.witness["anchored_by_trusted_keys"]
    both, _ = verify(tmp_path, world.archive, trusted=[log_print(world)], witness=[str(pem)])
    assert both.status == "verified" and both.witness["anchored_by_trusted_keys"], both.text()
    assert "every key is a trusted one and every chain's newest checkpoint is co-signed" in both.text()
    assert scelle(["verify", "--witness-key", "no-such-file.pem", str(path)]) == 2
    assert "cannot read the witness keys" in capsys.readouterr().err


def test_a_witness_key_that_does_not_match_fails_and_the_other_cosignatures_are_reported(world, tmp_path, capsys):
    _, other = attacker_key()
    other_print = "sha256:" + fingerprint(other.decode())
    report, path = verify(tmp_path, world.archive, witness=[other_print])
    assert report.status == "failed" and report.exit_code == 1
    first = report.first
    assert (first.file, first.reason) == (fmt.COSIGNATURES, "not_witnessed")
    assert first.chain in {c["chain"] for c in report.chains} and first.seq is not None
    assert f"co-signed only by {world.witness.key_id} ({witness_print(world)}), which is not among the " \
           "--witness-key keys" in first.detail
    assert {f.chain for f in report.findings if f.reason == "not_witnessed"} == {c["chain"] for c in report.chains}
    assert scelle(["verify", "--witness-key", other_print, str(path)]) == 1
    out = capsys.readouterr().out
    assert "not among the --witness-key keys" in out and "they anchor nothing" in out
    assert scelle(["verify", "--json", "--witness-key", other_print, "--trusted-key", log_print(world),
                   str(path)]) == 1  # the log key pinned does not make up for the witness the auditor named
    data = json.loads(capsys.readouterr().out)
    assert data["witness"]["keys"] == [{"key_id": world.witness.key_id, "fingerprint": witness_print(world)[7:],
                                        "file": witness_file(world), "given": False}]
    assert {p["reason"] for p in data["problems"]} == {"not_witnessed"}


# ---- forgeries -------------------------------------------------------------------------------------------
def test_a_cosignature_row_whose_root_differs_from_the_checkpoint_is_named(world, tmp_path):
    files = members(world.archive)
    rows = csv_rows(files[fmt.COSIGNATURES])
    index = next(i for i, row in enumerate(rows) if row[0] == R1)
    genuine = rows[index][2]
    rows[index][2] = hashlib.sha256(b"another history").hexdigest()
    data = resign(world.archive, world.signer, change={fmt.COSIGNATURES: csv_bytes(rows)})
    report, _ = verify(tmp_path, data, trusted=[log_print(world)])
    first = report.first
    assert report.exit_code == 1
    assert (first.file, first.row, first.chain, first.seq, first.column, first.reason) == (
        fmt.COSIGNATURES, index + 1, R1, int(rows[index][1]), "racine", "cosignature_root_mismatch")
    assert (first.expected, first.found) == (genuine, rows[index][2])
    assert str(first).startswith(f"{fmt.COSIGNATURES} row {index + 1} ({R1} seq {rows[index][1]}) column racine:")
    # not re-signed: the same finding, and the changed file is said too
    unsigned = zipfile.ZipFile(io.BytesIO(world.archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in unsigned.namelist():
            zf.writestr(name, csv_bytes(rows) if name == fmt.COSIGNATURES else unsigned.read(name))
    report, _ = verify(tmp_path, out.getvalue())
    assert report.first.reason == "cosignature_root_mismatch" and "SHA-256 also differs" in report.first.detail


def test_a_witness_key_substituted_under_the_same_id_and_file_with_re_signed_cosignatures_is_named(world, tmp_path):
    key, pem = attacker_key()
    files = members(world.archive)
    checkpoints = checkpoints_of(world, files)
    rows = csv_rows(files[fmt.COSIGNATURES])
    for row in rows[1:]:
        unsigned = Cosignature(row[3], row[4], checkpoints[(row[0], int(row[1]))])
        row[5] = base64.b64encode(key.sign(unsigned.signed_message(), ec.ECDSA(hashes.SHA256()))).decode()
    data = resign(world.archive, world.signer, change={witness_file(world): pem,
                                                       fmt.COSIGNATURES: csv_bytes(rows)})
    report, _ = verify(tmp_path, data)
    assert report.exit_code == 1
    assert (report.first.file, report.first.reason) == (witness_file(world), "key_id_mismatch")
    assert "witness key id" in report.first.detail and "replaced under the same id" in report.first.detail
    assert not [f for f in report.findings if f.reason == "bad_cosignature"]  # they do verify with the new key...
    assert all(not c["witness"]["sizes"] for c in report.chains)  # ...but count for nothing
    pinned, _ = verify(tmp_path, data, witness=[witness_print(world)])
    assert {f.reason for f in pinned.findings} == {"key_id_mismatch", "not_witnessed"}
    # the key substituted but the rows left as they were: each row fails its signature too
    data = resign(world.archive, world.signer, change={witness_file(world): pem})
    report, _ = verify(tmp_path, data)
    assert report.first.reason == "key_id_mismatch"
    bad = [f for f in report.findings if f.reason == "bad_cosignature"]
    assert len(bad) == len(rows) - 1 and {(f.file, f.column) for f in bad} == {(fmt.COSIGNATURES, "signature")}
    assert bad[0].row == 2


def test_a_removed_witness_key_is_named(world, tmp_path):
    files = members(world.archive)
    index = json.loads(files[fmt.KEYS_INDEX])
    index["keys"] = [k for k in index["keys"] if k["role"] != "witness"]
    keys_json = json.dumps(index, sort_keys=True, indent=1).encode() + b"\n"
    data = resign(world.archive, world.signer, change={fmt.KEYS_INDEX: keys_json}, drop=[witness_file(world)])
    report, _ = verify(tmp_path, data, trusted=[log_print(world)])
    assert report.exit_code == 1
    assert (report.first.file, report.first.reason) == (fmt.KEYS_INDEX, "witness_key_missing")
    assert world.witness.key_id in report.first.detail and "removed" in report.first.detail
    rows = [f for f in report.findings if f.file == fmt.COSIGNATURES]
    assert rows and {(f.reason, f.column, f.found) for f in rows} == {
        ("witness_key_missing", "cle_temoin", world.witness.key_id)}
    assert rows[0].row == 2 and rows[0].expected == f"a witness key of {fmt.KEYS_INDEX}"
    # and the manifest's naming of it removed too: the rows alone say it
    manifest = json.loads(members(data)[fmt.MANIFEST])
    manifest["witness_keys"] = []
    body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
    report, _ = verify(tmp_path, resign(data, world.signer, change={fmt.MANIFEST: body}))
    assert (report.first.file, report.first.reason, report.first.column) == (
        fmt.COSIGNATURES, "witness_key_missing", "cle_temoin")


def test_a_malformed_cosignature_row_names_the_file_row_column_expected_and_found(world, tmp_path):
    files = members(world.archive)
    rows = csv_rows(files[fmt.COSIGNATURES])
    rows[2][1] = "douze"
    rows[3][4] = "2026-02-30T10:00:00Z"
    data = resign(world.archive, world.signer, change={fmt.COSIGNATURES: csv_bytes(rows)})
    report, _ = verify(tmp_path, data)
    found = [(f.row, f.column, f.found, f.reason) for f in report.findings if f.file == fmt.COSIGNATURES]
    assert found == [(3, "taille", "douze", "malformed_row"), (4, "horodatage_utc", "2026-02-30T10:00:00Z",
                                                               "malformed_row")]
    first = report.first
    assert first.expected == "a checkpoint size (a decimal integer of at least 1)"
    assert str(first).startswith(f"{fmt.COSIGNATURES} row 3 ({rows[2][0]} seq ?) column taille: [malformed_row] "
                                 "expected a checkpoint size")
    assert report.findings[-1].seq == int(rows[3][1])  # the size, when it could be read


def test_a_cosignature_of_a_size_without_checkpoint_and_rows_out_of_order_are_named(world, tmp_path):
    files = members(world.archive)
    rows = csv_rows(files[fmt.COSIGNATURES])
    r1 = [i for i, row in enumerate(rows) if row[0] == R1]
    rows[r1[0]], rows[r1[1]] = rows[r1[1]], rows[r1[0]]
    data = resign(world.archive, world.signer, change={fmt.COSIGNATURES: csv_bytes(rows)})
    report, _ = verify(tmp_path, data)
    assert (report.first.reason, report.first.row, report.first.column) == ("row_order", r1[1] + 1, "taille")
    rows = csv_rows(files[fmt.COSIGNATURES])
    rows[r1[0]][1] = str(int(rows[r1[0]][1]) - 1)
    data = resign(world.archive, world.signer, change={fmt.COSIGNATURES: csv_bytes(rows)})
    report, _ = verify(tmp_path, data)
    assert (report.first.reason, report.first.row, report.first.column, report.first.found) == (
        "cosignature_without_checkpoint", r1[0] + 1, "taille", rows[r1[0]][1])


def test_an_archive_without_cosignatures_is_not_anchored_by_a_witness_key(world, tmp_path):
    header = csv_bytes([fmt.COSIGNATURES_HEADER])
    data = resign(world.archive, world.signer, change={fmt.COSIGNATURES: header})
    report, _ = verify(tmp_path, data)
    assert report.status == "unanchored" and "holds no cosignature" in report.text()
    assert all(not c["witness"]["newest_cosigned"] for c in report.chains)
    report, _ = verify(tmp_path, data, witness=[witness_print(world)])
    assert report.exit_code == 1 and {f.reason for f in report.findings} == {"not_witnessed"}
    assert "carries no valid cosignature" in report.first.detail


# ---- the export job and the witness --------------------------------------------------------------------------
def test_an_export_the_witness_refuses_fails_with_its_reason(tmp_path):
    """The witness co-signed another root at the chain's current size (the log showed it another
    history): the export's submission is refused, and the job fails saying so."""
    stack = MemoryStack(tmp_path, country="FR")
    stack.trade(days=1, sales_per_day=6)
    tenant = stack.tenant.tenant_id
    checkpoint = stack.checkpoints.checkpoint(tenant, R1)
    other = Checkpoint(checkpoint.chain_key, checkpoint.size, hashlib.sha256(b"fork").hexdigest(),
                       checkpoint.timestamp, checkpoint.key_id)
    unsigned = Cosignature(stack.witness.key_id, checkpoint.timestamp, other)
    stack.witness._view.put(unsigned.with_signature(stack.witness._signer.sign(unsigned.signed_message())))
    job, data = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "failed" and data == b""
    error = job["error"]
    assert error["reason"] == "witness_fork" and error["retryable"] is False
    assert error["title"] == "The witness refused the export's checkpoint" and "witness_fork" in error["detail"]


def test_an_unreachable_witness_fails_the_export_as_retryable(tmp_path, monkeypatch):
    stack = MemoryStack(tmp_path, country="FR")
    stack.trade(days=1, sales_per_day=6)

    def down(chain_key):
        raise Unavailable("the witness could not be reached: timeout")

    monkeypatch.setattr(stack.witness, "latest", down)
    job, _ = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "failed"
    assert job["error"]["retryable"] is True and "request the export again" in job["error"]["detail"]


def test_a_kept_cosignature_that_does_not_match_its_checkpoint_stops_the_export(tmp_path):
    """An item planted in the ops table (or a fork the checkpoints no longer show): the export is
    not built rather than carrying a cosignature that fails `scelle verify`."""
    from chalicelib.services.witness import cosignature_pk, cosignature_sk

    stack = MemoryStack(tmp_path, country="FR")
    stack.trade(days=1, sales_per_day=6)
    tenant = stack.tenant.tenant_id
    checkpoint = stack.checkpoints.checkpoint(tenant, R1)
    planted = Cosignature(stack.witness.key_id, checkpoint.timestamp, Checkpoint(
        checkpoint.chain_key, checkpoint.size, hashlib.sha256(b"planted").hexdigest(), checkpoint.timestamp,
        checkpoint.key_id))
    planted = planted.with_signature(stack.witness._signer.sign(planted.signed_message()))
    stack.witness_submitter._ops.put_once(cosignature_pk(checkpoint.chain_key),
                                          cosignature_sk(checkpoint.size, stack.witness.key_id),
                                          {"text": planted.to_text(), "size": checkpoint.size})
    job, _ = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "failed"
    assert job["error"]["title"] == "The witness's cosignatures do not match the signed checkpoints"
    assert any(R1 in p and f"size {checkpoint.size}" in p for p in job["error"]["problems"])


def test_the_published_key_list_gives_log_keys_to_trusted_key_and_witness_keys_to_witness_key(tmp_path):
    """GET /v1/keys lists both roles: each option takes only its own (a witness key must never be
    trusted to sign checkpoints, nor the log key to co-sign them)."""
    import json

    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.ports.signatures import public_key_fingerprint
    from chalicelib.verify_export.verifier import load_trusted_keys

    log, witness = LocalSigner(tmp_path, "log"), LocalSigner(tmp_path, "witness")
    listing = tmp_path / "keys.json"
    listing.write_text(json.dumps({"keys": [
        {"key_id": log.key_id, "not_before": "2026-01-01T00:00:00.000000Z", "not_after": None,
         "public_key_pem": log.public_key_pem(), "role": "log"},
        {"key_id": witness.key_id, "not_before": "2026-01-01T00:00:00.000000Z", "not_after": None,
         "public_key_pem": witness.public_key_pem(), "role": "witness"}]}))
    assert load_trusted_keys([listing]) == {public_key_fingerprint(log.public_key_pem())}
    assert load_trusted_keys([listing], role="witness") == {public_key_fingerprint(witness.public_key_pem())}
