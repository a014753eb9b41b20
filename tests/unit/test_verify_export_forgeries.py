"""Exports anchored and complete (issue 14 item 5; docs/decisions/0018-exports-anchored-and-complete.md).

The forgeries here are internally consistent: the forger runs Scellé's own archive builder on
doctored records, re-sealing the event journal and signing every checkpoint and the manifest with
a key of their own (or, for an insider who altered the stored data before the platform built the
export, with the real key). So each one passes every hash, link, Merkle root and signature check:
only the trust anchor (``--trusted-key``) and the completeness checks (chain directory, event
journal) can catch it.

Exit statuses of ``scelle verify``: 0 verified and anchored, 1 failed, 2 usage error, 3
internally consistent but unanchored.
"""

from __future__ import annotations

import io
import json
import random
from datetime import date, datetime

import pytest

from chalicelib.cli import main as scelle
from chalicelib.commands.export_sample import MemoryStack, _lines_total, _pay, _sale
from chalicelib.domain.checkpoint import Checkpoint, PublicKeyInfo
from chalicelib.domain.merkle import CompactRange, record_leaf_hash
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, seal
from chalicelib.verify_export import format as fmt
from chalicelib.verify_export import verify_archive
from chalicelib.verify_export.verifier import fingerprint, load_trusted_keys
from tests.support.archives import members, signed

FIRST_DAY, LAST_DAY = date(2026, 2, 1), date(2026, 2, 28)
R1, R2, JOURNAL = "prod.sales.R1", "prod.sales.R2", "prod.journal"
TAIL = 3  # receipts recorded on R1 after the last closure: the three a forger deletes


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three days of trade on R1 and R2, then three more receipts on R1 (after the last closure,
    so deleting them needs no closure rewritten), every event derived; the genuine export."""
    stack = MemoryStack(tmp_path_factory.mktemp("keys"), country="FR")
    stack.trade(days=3, sales_per_day=20)
    rng = random.Random(11)
    for _ in range(TAIL):
        stack.clock.advance(120)
        request = _sale(rng, stack.clock, "R1")
        _pay(request, _lines_total(request), rng)
        stack.ledger.record_sale(stack.caller, request, None)
    stack.deriver.catch_up(stack.tenant.tenant_id, [R1])
    job, data = stack.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY)
    assert job["status"] == "done", job
    stack.archive = data
    stack.key_dir = tmp_path_factory.mktemp("attacker")
    return stack


# ---- reading and forging archives --------------------------------------------------------------------
def manifest_of(data: bytes) -> dict:
    return json.loads(members(data)[fmt.MANIFEST])


def records_of(data: bytes) -> dict[str, list[SealedRecord]]:
    found = {}
    for name, body in members(data).items():
        if name.startswith(fmt.RECORDS_DIR):
            chain = name[len(fmt.RECORDS_DIR):-len(".jsonl")]
            found[chain] = [SealedRecord.from_item(json.loads(line)) for line in body.splitlines()]
    return found


def derived(record: SealedRecord, chain: str | None = None, seqs=None) -> bool:
    """Whether an event record is the derived event of an entry (of ``chain``, one of ``seqs``)."""
    details = record.data.get("details") or {}
    return (record.data.get("kind") in fmt.DERIVED_EVENTS and (chain is None or details.get("chain") == chain)
            and (seqs is None or details.get("seq") in seqs))


def reseal(records: list[SealedRecord], change=None) -> list[SealedRecord]:
    """The records renumbered from 1 and re-chained (what a forger does after deleting some)."""
    out, prev = [], GENESIS_PREV_HASH
    for seq, record in enumerate(records, start=1):
        data = change(record.data) if change else record.data
        sealed = seal(record.tenant_id, record.chain, seq, record.type, record.recorded_at, record.training, data,
                      prev)
        out.append(sealed)
        prev = sealed.hash
    return out


class AttackerSigner:
    """A key of the forger's own, under the key id they choose."""

    def __init__(self, key_dir, key_id: str | None = None) -> None:
        from chalicelib.adapters.signing import LocalSigner

        self._inner = LocalSigner(key_dir, f"attacker{random.getrandbits(32)}")
        self.key_id = key_id or self._inner.key_id

    def sign(self, message: bytes) -> bytes:
        return self._inner.sign(message)

    def public_key_pem(self) -> str:
        return self._inner.public_key_pem()


class ForgedSource:
    """A ``ChainSource`` over doctored records, every checkpoint signed by ``signer``."""

    def __init__(self, tenant_id, records, signer, *, not_before, at, derived_through=None, extra_keys=()) -> None:
        self.tenant_id, self.chains, self.signer = tenant_id, records, signer
        self.not_before, self.at = not_before, at
        self.claimed = derived_through or {}
        self.extra_keys = list(extra_keys)

    def end(self, chain):
        return len(self.chains.get(chain, []))

    def records(self, chain, first, last):
        return iter(self.chains[chain][first - 1:last])

    def checkpoints(self, chain, end):
        compact = CompactRange()
        for record in self.chains[chain][:end]:
            compact.append(record_leaf_hash(record.hash))
        unsigned = Checkpoint(chain_key(self.tenant_id, chain), end, compact.root().hex(), self.at,
                              self.signer.key_id)
        return [unsigned.with_signature(self.signer.sign(unsigned.signed_message()))]

    def keys(self):
        current = PublicKeyInfo(self.signer.key_id, self.not_before, None, self.signer.public_key_pem())
        return [*self.extra_keys, current]

    def derived_through(self, chain):
        return self.claimed.get(chain, len(self.chains.get(chain, [])))


def forge(world, records, signer, *, directory=None, derived_through=None, refuse_lag=True, monkeypatch=None,
          extra_keys=()) -> bytes:
    """The archive the forger's run of Scellé's builder makes from ``records``."""
    from chalicelib.services import export_archive
    from chalicelib.services.export_archive import ArchiveSpec, build_archive

    manifest = manifest_of(world.archive)
    export = manifest["export"]
    ledger = tuple(sorted(c for c in records if c != fmt.EVENTS_CHAIN))
    key = json.loads(members(world.archive)[fmt.KEYS_INDEX])["keys"][0]
    source = ForgedSource(world.tenant.tenant_id, records, signer, not_before=key["not_before"],
                          at=export["generated_at"], derived_through=derived_through, extra_keys=extra_keys)
    spec = ArchiveSpec(job_id=export["job_id"], kind="fiscal", first_day=date.fromisoformat(export["first_day"]),
                       last_day=date.fromisoformat(export["last_day"]), chains=ledger,
                       requested_by=export["requested_by"], requested_at=export["requested_at"])
    if not refuse_lag:  # the forger's builder does not refuse what Scellé's would
        monkeypatch.setattr(export_archive, "_check_derivation", lambda *a: None)
    generated = datetime.fromisoformat(export["generated_at"].replace("Z", "+00:00"))
    sink = io.BytesIO()
    build_archive(sink, tenant=world.tenant, spec=spec, source=source, signer=signer, clock=lambda: generated,
                  directory=lambda: directory if directory is not None else ledger)
    return sink.getvalue()


def resign(data: bytes, signer, change) -> bytes:
    """The archive with its manifest changed by ``change(manifest)`` and signed again by ``signer``."""
    files = members(data)
    manifest = json.loads(files[fmt.MANIFEST])
    change(manifest)
    return signed(files, manifest, signer)


def verify(tmp_path, data: bytes, *trusted: str):
    path = tmp_path / f"export{random.getrandbits(24)}.zip"
    path.write_bytes(data)
    report = verify_archive(path, trusted_keys=load_trusted_keys(trusted) if trusted else None)
    return report, path


def real_fingerprint(world) -> str:
    return "sha256:" + fingerprint(world.signer.public_key_pem())


def without_tail(world) -> dict[str, list[SealedRecord]]:
    """The three last receipts of R1 deleted, with their events (the event journal re-sealed)."""
    records = records_of(world.archive)
    gone = {r.seq for r in records[R1][-TAIL:]}
    assert all(r.type == "sale" for r in records[R1][-TAIL:])
    records[R1] = records[R1][:-TAIL]
    records[fmt.EVENTS_CHAIN] = reseal([e for e in records[fmt.EVENTS_CHAIN] if not derived(e, R1, gone)])
    return records


# ---- the untouched export -----------------------------------------------------------------------------
def test_the_untouched_export_is_unanchored_exit_3_without_a_trusted_key_and_ok_exit_0_with_it(
        world, tmp_path, capsys):
    report, path = verify(tmp_path, world.archive)
    assert report.ok and report.status == "unanchored" and report.exit_code == 3, report.text()
    assert scelle(["verify", str(path)]) == 3
    out = capsys.readouterr().out
    assert "RESULT: UNANCHORED" in out and "RESULT: OK" not in out
    assert f"unanchored: key {world.signer.key_id} (sha256:{fingerprint(world.signer.public_key_pem())})" in out
    assert "--trusted-key" in out and "auditor guide" in out

    pem = tmp_path / "published.pem"
    pem.write_text(world.signer.public_key_pem())
    keys = tmp_path / "keys.json"  # the shape of GET /v1/keys
    keys.write_text(json.dumps({"keys": [{"key_id": world.signer.key_id, "not_before": "x", "not_after": None,
                                          "public_key_pem": world.signer.public_key_pem()}]}))
    digits = fingerprint(world.signer.public_key_pem())
    for anchor in (real_fingerprint(world), digits.upper(), ":".join(digits[i:i + 2] for i in range(0, 64, 2)),
                   digits[:32], f"{digits}  -", str(pem), str(keys)):
        assert scelle(["verify", "--trusted-key", anchor, str(path)]) == 0, anchor
        out = capsys.readouterr().out
        assert "RESULT: OK" in out and "UNANCHORED" not in out
    anchored, _ = verify(tmp_path, world.archive, real_fingerprint(world))
    assert anchored.status == "verified" and anchored.anchored and anchored.exit_code == 0


def test_a_trusted_key_that_is_neither_a_file_nor_a_long_enough_fingerprint_is_a_usage_error(world, tmp_path, capsys):
    _, path = verify(tmp_path, world.archive)
    key_id_prefix = world.signer.key_id.rsplit(":", 1)[1]  # 16 hex digits: too short to trust
    assert scelle(["verify", "--trusted-key", key_id_prefix, str(path)]) == 2
    assert "at least 32 hex digits" in capsys.readouterr().err
    assert scelle(["verify", "--trusted-key", "no-such-file.pem", str(path)]) == 2


def test_a_fingerprint_copied_one_digit_short_or_long_is_named_not_trusted_as_a_prefix(world, tmp_path, capsys):
    """An odd count of digits is a slip of the copy: as a prefix it would anchor nothing and the
    verdict would blame the archive's key; refused as the browser's check refuses it."""
    _, path = verify(tmp_path, world.archive)
    digits = fingerprint(world.signer.public_key_pem())
    for slip in (digits[:63], digits[:31] + digits[32:], digits[:33], "sha256:" + digits[:45]):
        assert scelle(["verify", "--trusted-key", slip, str(path)]) == 2, slip
        assert "an odd number: a digit is missing or extra" in capsys.readouterr().err
    assert scelle(["verify", "--trusted-key", digits[:62], str(path)]) == 0  # whole bytes: a prefix


def test_another_trusted_key_fails_naming_the_archives_key_file(world, tmp_path, capsys):
    other = AttackerSigner(world.key_dir)
    report, path = verify(tmp_path, world.archive, fingerprint(other.public_key_pem()))
    assert report.status == "failed" and report.exit_code == 1
    assert (report.first.file, report.first.reason) == (fmt.key_file(world.signer.key_id), "key_not_trusted")
    assert scelle(["verify", "--trusted-key", fingerprint(other.public_key_pem()), str(path)]) == 1


def test_only_the_keys_that_sign_something_need_the_anchor(world, tmp_path):
    """A retired key still published (so in keys.json) but signing nothing in this archive."""
    retired = AttackerSigner(world.key_dir)
    old = PublicKeyInfo(retired.key_id, "2025-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z",
                        retired.public_key_pem())
    data = forge(world, records_of(world.archive), world.signer, extra_keys=[old])
    report, _ = verify(tmp_path, data, real_fingerprint(world))
    assert report.status == "verified", report.text()
    assert [k["key_id"] for k in report.signing] == [world.signer.key_id] and len(report.keys) == 2
    report, _ = verify(tmp_path, data, "sha256:" + fingerprint(retired.public_key_pem()))
    assert (report.first.file, report.first.reason) == (fmt.key_file(world.signer.key_id), "key_not_trusted")


# ---- attack 1: the key swapped, checkpoints and manifest re-signed, three receipts deleted ----------------
def test_a_key_swapped_under_the_same_key_id_and_file_name_fails_without_anchor_naming_the_file(
        world, tmp_path, capsys):
    attacker = AttackerSigner(world.key_dir, key_id=world.signer.key_id)  # same id, so the same keys/ file
    data = forge(world, without_tail(world), attacker)
    name = fmt.key_file(world.signer.key_id)
    assert name in members(data) and members(data)[name].decode() == attacker.public_key_pem()
    report, path = verify(tmp_path, data)
    assert report.exit_code == 1
    # every hash, link, root and signature holds: only the key id's fingerprint prefix gives it away
    assert [(f.file, f.reason) for f in report.findings] == [(name, "key_id_mismatch")], report.text()
    assert "carries the fingerprint prefix" in report.first.detail
    assert scelle(["verify", str(path)]) == 1
    assert f"RESULT: FAILED - 1 problem(s). First: {name}: [key_id_mismatch]" in capsys.readouterr().out
    assert scelle(["verify", "--trusted-key", real_fingerprint(world), str(path)]) == 1


def test_a_key_swapped_under_a_consistent_key_id_is_unanchored_exit_3_and_fails_against_the_real_fingerprint(
        world, tmp_path, capsys):
    attacker = AttackerSigner(world.key_dir)  # its own key id, carrying its own fingerprint
    data = forge(world, without_tail(world), attacker)
    report, path = verify(tmp_path, data)
    # internally consistent, complete (the events of the deleted receipts were deleted too)...
    assert report.ok, report.text()
    assert report.completeness["chains"][R1]["events_through"] == report.completeness["chains"][R1]["last_seq"]
    # ...but never a bare OK: exit 3, and the report says which key is unanchored
    assert report.status == "unanchored"
    assert scelle(["verify", str(path)]) == 3
    out = capsys.readouterr().out
    assert "RESULT: OK" not in out and "RESULT: UNANCHORED" in out
    assert f"unanchored: key {attacker.key_id} (sha256:{fingerprint(attacker.public_key_pem())})" in out

    assert scelle(["verify", "--trusted-key", real_fingerprint(world), str(path)]) == 1
    anchored, _ = verify(tmp_path, data, real_fingerprint(world))
    assert (anchored.first.file, anchored.first.reason) == (fmt.key_file(attacker.key_id), "key_not_trusted")


# ---- attack 2: a register removed everywhere but in the event journal ------------------------------------
@pytest.mark.parametrize("who", ["attacker", "insider"])
def test_a_register_removed_everywhere_but_the_event_journal_fails_naming_it(world, tmp_path, capsys, who):
    """``attacker``: re-signed with their own key; ``insider``: R2 deleted from the stored ledger
    and the chain directory before the platform built (and signed, with the real key) the export."""
    records = records_of(world.archive)
    named = sum(1 for e in records[fmt.EVENTS_CHAIN] if derived(e, R2))
    assert named > 0
    del records[R2]
    signer = AttackerSigner(world.key_dir) if who == "attacker" else world.signer
    data = forge(world, records, signer, directory=[JOURNAL, R1])
    assert not any(R2 in name for name in members(data))
    anchor = () if who == "attacker" else (real_fingerprint(world),)
    report, path = verify(tmp_path, data, *anchor)
    assert report.exit_code == 1, report.text()
    first = report.first
    assert (first.file, first.reason, first.chain, first.seq) == (fmt.MANIFEST, "chain_unlisted", R2, 1)
    assert f"{named} event(s) of the event journal" in first.detail
    assert scelle(["verify", *(["--trusted-key", anchor[0]] if anchor else []), str(path)]) == 1
    out = capsys.readouterr().out
    assert "RESULT: FAILED" in out and f"({R2} seq 1): [chain_unlisted]" in out


def test_a_register_listed_in_the_directory_but_missing_from_the_export_fails_naming_it(world, tmp_path):
    """Scellé's builder lists a chain it leaves out as excluded, with the reason; a forger who
    removes R2 but leaves the listing saying it is included is caught."""
    records = records_of(world.archive)
    del records[R2]
    attacker = AttackerSigner(world.key_dir)

    def listing_says_included(manifest):
        for entry in manifest["directory"]["chains"]:
            if entry["chain"] == R2:
                entry.clear()
                entry.update(chain=R2, status="included")

    data = resign(forge(world, records, attacker, directory=[JOURNAL, R1, R2]), attacker, listing_says_included)
    report, _ = verify(tmp_path, data)
    found = {(f.file, f.reason, f.chain) for f in report.findings}
    assert (fmt.records_path(R2), "chain_missing", R2) in found
    assert report.first.chain == R2 and report.exit_code == 1


def test_a_partial_export_says_what_it_leaves_out_and_why(world, tmp_path, capsys):
    """A genuine export of R1 alone: R2 and the journal are listed as not requested, the
    training chain of the test-mode days as never in a production export; it verifies."""
    world.directory.register(world.tenant.tenant_id, "test.sales.R1")
    world.directory.register(world.tenant.tenant_id, "prod.sales.R9")  # registered, nothing sealed yet
    job, data = world.export("fiscal", first_day=FIRST_DAY, last_day=LAST_DAY, chains=[R1, "prod.sales.R9"])
    assert job["status"] == "done", job
    listing = {e["chain"]: e for e in manifest_of(data)["directory"]["chains"]}
    assert {c: e["status"] for c, e in listing.items()} == {
        R1: "included", "events": "included", R2: "excluded", JOURNAL: "excluded", "test.sales.R1": "excluded",
        "prod.sales.R9": "empty"}
    assert listing[R2]["reason"] == "not requested: this export was asked for prod.sales.R1, prod.sales.R9"
    assert listing["test.sales.R1"]["reason"].startswith("training data")
    report, path = verify(tmp_path, data, real_fingerprint(world))
    assert report.status == "verified", report.text()
    assert scelle(["verify", "--trusted-key", real_fingerprint(world), str(path)]) == 0
    out = capsys.readouterr().out
    assert f"left out  {R2}: excluded (not requested" in out and "left out  prod.sales.R9: empty" in out


# ---- attack 3: the event journal missing entries of a chain ------------------------------------------------
@pytest.mark.parametrize("who", ["attacker", "insider"])
def test_events_missing_entries_of_a_chain_fail_naming_the_chain_and_first_seq(world, tmp_path, who):
    records = records_of(world.archive)
    records[fmt.EVENTS_CHAIN] = reseal([e for e in records[fmt.EVENTS_CHAIN] if not derived(e, R1, {5, 6, 7})])
    signer = AttackerSigner(world.key_dir) if who == "attacker" else world.signer
    anchor = () if who == "attacker" else (real_fingerprint(world),)
    report, path = verify(tmp_path, forge(world, records, signer), *anchor)
    assert report.exit_code == 1, report.text()
    first = report.first
    assert (first.file, first.reason, first.chain, first.seq) == (fmt.records_path("events"), "event_missing", R1, 5)
    assert scelle(["verify", *(["--trusted-key", anchor[0]] if anchor else []), str(path)]) == 1


def test_events_cut_at_the_tail_of_a_chain_fail_against_the_stated_derivation_point(world, tmp_path):
    records = records_of(world.archive)
    last = len(records[R1])
    records[fmt.EVENTS_CHAIN] = reseal([e for e in records[fmt.EVENTS_CHAIN]
                                        if not derived(e, R1, set(range(last - 2, last + 1)))])
    report, _ = verify(tmp_path, forge(world, records, world.signer), real_fingerprint(world))
    first = report.first
    assert (first.reason, first.chain, first.seq) == ("event_missing", R1, last - 2), report.text()
    assert f"through seq {last}" in first.detail


def test_events_cut_at_the_tail_with_a_lowered_derivation_point_fail_when_the_entries_are_old(
        world, tmp_path, monkeypatch):
    records = records_of(world.archive)
    last = len(records[R1])
    records[fmt.EVENTS_CHAIN] = reseal([e for e in records[fmt.EVENTS_CHAIN]
                                        if not derived(e, R1, set(range(last - 2, last + 1)))])
    data = forge(world, records, AttackerSigner(world.key_dir), derived_through={R1: last - 3}, refuse_lag=False,
                 monkeypatch=monkeypatch)
    report, _ = verify(tmp_path, data)
    first = report.first
    assert (first.reason, first.chain, first.seq) == ("event_missing", R1, last - 2), report.text()
    assert "more than 60 minutes later" in first.detail


def test_an_event_naming_an_entry_the_export_does_not_carry_fails(world, tmp_path):
    records = records_of(world.archive)
    records[R1] = records[R1][:-TAIL]  # the receipts deleted, their events kept
    report, _ = verify(tmp_path, forge(world, records, AttackerSigner(world.key_dir)))
    first = report.first
    assert (first.reason, first.chain, first.seq) == ("event_without_entry", R1, len(records[R1]) + 1)


def test_an_event_whose_hash_differs_from_its_entry_fails_naming_the_entry(world, tmp_path):
    records = records_of(world.archive)

    def change(data):
        details = data.get("details") or {}
        if data.get("kind") in fmt.DERIVED_EVENTS and details.get("chain") == R2 and details.get("seq") == 9:
            return {**data, "details": {**details, "hash": "0" * 64}}
        return data

    records[fmt.EVENTS_CHAIN] = reseal(records[fmt.EVENTS_CHAIN], change)
    report, _ = verify(tmp_path, forge(world, records, AttackerSigner(world.key_dir)))
    first = report.first
    assert (first.reason, first.chain, first.seq) == ("event_mismatch", R2, 9), report.text()


# ---- the builder: derivation lag ----------------------------------------------------------------------------
def _request(stack, chains=None):
    from chalicelib.services.exports import ExportRequest

    job = stack.exports.request(stack.caller, ExportRequest("fiscal", FIRST_DAY, LAST_DAY, chains))
    stored = stack.exports._jobs.get(stack.tenant.tenant_id, job["job_id"])
    return stored, (stack.exports._objects.read(stored["object_key"]) if stored["status"] == "done" else b"")


def test_entries_sealed_just_before_the_export_without_their_event_yet_are_reported_not_failed(tmp_path):
    stack = MemoryStack(tmp_path / "keys", country="FR")
    stack.trade(days=1, sales_per_day=6)
    rng = random.Random(3)
    for _ in range(2):  # the journal stream has not derived these yet
        request = _sale(rng, stack.clock, "R1")
        _pay(request, _lines_total(request), rng)
        stack.ledger.record_sale(stack.caller, request, None)
    job, data = _request(stack)
    assert job["status"] == "done", job
    report, _ = verify(tmp_path, data, "sha256:" + fingerprint(stack.signer.public_key_pem()))
    assert report.status == "verified", report.text()
    cross = report.completeness["chains"][R1]
    assert cross["without_event"] == 2 and cross["events_derived_through"] == cross["last_seq"] - 2
    assert any("had no event yet when the archive was built" in note for note in report.completeness["notes"])


def test_the_builder_refuses_an_export_while_the_event_journal_is_an_hour_behind(tmp_path):
    stack = MemoryStack(tmp_path / "keys", country="FR")
    stack.trade(days=1, sales_per_day=6)
    rng = random.Random(5)
    request = _sale(rng, stack.clock, "R1")
    _pay(request, _lines_total(request), rng)
    stack.ledger.record_sale(stack.caller, request, None)
    stack.clock.advance(2 * 3600)
    job, _ = _request(stack)
    assert job["status"] == "failed"
    assert job["error"]["title"] == "The event journal is behind the ledger"
    assert R1 in job["error"]["detail"] and "no event in the event journal yet" in job["error"]["detail"]
    stack.deriver.catch_up(stack.tenant.tenant_id, [R1])
    job, _ = _request(stack)
    assert job["status"] == "done", job


# ---- one definition of the derived events ----------------------------------------------------------------
def test_the_verifier_knows_the_derived_events_the_deriver_writes():
    from chalicelib.services.events import DERIVED_KINDS, derived_event

    assert fmt.DERIVED_EVENT_KINDS == DERIVED_KINDS
    record = seal("t1", "prod.sales.R1", 1, "sale", "2026-02-25T10:00:00.000000Z", False,
                  {"totals": {"incl": 100}}, GENESIS_PREV_HASH)
    event = derived_event(record)
    assert event["kind"] == fmt.derived_event_kind("sale") and event["kind"] in fmt.DERIVED_EVENTS
    assert {k: event["details"][k] for k in ("chain", "seq", "hash")} == {
        "chain": record.chain, "seq": record.seq, "hash": record.hash}
    assert fmt.derived_event_kind("something-new") == "entry_recorded"


@pytest.mark.parametrize("key_id, claimed", [
    ("local:signing:3f2a9c41b7e0d5a6", "3f2a9c41b7e0d5a6"),
    ("arn:aws:kms:eu-west-3:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", None),
    ("local:signing", None),
    ("kms:arn:aws:kms:eu-west-3:111122223333:key/1234abcd-12ab:" + "ab" * 16, "ab" * 16),
    ("local:x:3F2A9C41B7E0D5A6", None),  # upper case: not what Scellé writes, so no claim
    ("plain", None),
])
def test_which_key_ids_carry_a_fingerprint(key_id, claimed):
    assert fmt.claimed_fingerprint(key_id) == claimed
    # the signers and the key registry apply the same rule (domain.checkpoint.key_id_fingerprint)
    from chalicelib.domain import checkpoint

    domain_rule = getattr(checkpoint, "key_id_fingerprint", None)
    if domain_rule is not None:
        assert domain_rule(key_id) == claimed


def test_an_archive_without_a_directory_listing_says_the_chain_set_is_not_checked(world, tmp_path):
    """An archive made before this check: its manifest lists no directory (re-signed here with
    the attacker's key, so it is unanchored anyway)."""
    attacker = AttackerSigner(world.key_dir)
    data = resign(forge(world, records_of(world.archive), attacker), attacker,
                  lambda manifest: manifest.pop("directory"))
    report, _ = verify(tmp_path, data)
    assert report.ok and report.status == "unanchored", report.text()
    assert any("does not list the tenant's chain directory" in n for n in report.completeness["notes"])


def test_records_past_the_newest_signed_checkpoint_are_not_vouched_for(world, tmp_path):
    """Offline, a record's write proof is vouched for by the signed checkpoint covering it
    (decision 0022): records beyond the newest checkpoint the signed manifest states fail, named."""
    manifest = manifest_of(world.archive)
    r1 = next(c for c in manifest["chains"] if c["chain"] == R1)
    assert r1["checkpoint_sizes"][-1] == r1["last_seq"]  # a genuine export ends at a signed checkpoint
    earlier = r1["checkpoint_sizes"][:-1]

    def drop_last_checkpoint(m):
        next(c for c in m["chains"] if c["chain"] == R1)["checkpoint_sizes"] = earlier

    report, _ = verify(tmp_path, resign(world.archive, world.signer, drop_last_checkpoint), real_fingerprint(world))
    unsigned = [f for f in report.findings if f.reason == "not_signed"]
    assert [(f.chain, f.seq) for f in unsigned] == [(R1, (earlier[-1] if earlier else 0) + 1)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_chain_listed_without_its_records_file_fails_even_signed_by_the_real_key(world, tmp_path, jobs):
    """The manifest lists R2 (its last seq, root, checkpoints) but neither the archive nor the
    manifest's files hold its records: its signed numbers stand on nothing checked. Before, only
    the CSV rows the records no longer gave betrayed it; an archive built without them passed."""
    files = members(world.archive)
    manifest = json.loads(files[fmt.MANIFEST])
    path = fmt.records_path(R2)
    manifest["files"] = [f for f in manifest["files"] if f["path"] != path]
    files.pop(path)
    archive = tmp_path / f"without-r2-{jobs}.zip"
    archive.write_bytes(signed(files, manifest, world.signer))
    report = verify_archive(archive, trusted_keys=load_trusted_keys([real_fingerprint(world)]), jobs=jobs)
    assert not report.ok
    missing = [f for f in report.findings if f.reason == "file_missing"]
    assert [(f.file, f.chain, f.seq) for f in missing] == [(path, R2, 1)], report.text()
