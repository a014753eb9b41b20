"""Each tamper case of the ledger, done behind the application's back with raw DynamoDB calls,
raises a tamper alarm naming the chain and the seq within one pass of the stream pump (stream
verifier) or one run of the full verifier; expired event-journal items swept in local mode are
not alarms, deletions are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.checkpoint import Checkpoint, SigningRefused
from chalicelib.domain.records import chain_key
from chalicelib.services.events import PLATFORM_TENANT
from tests.support.continuous import alarms, append, new_tenant, private_stack
from tests.support.tamper import Tamperer

pytestmark = pytest.mark.functional
CHAIN = "prod.sales.R1"


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-stream")) as cv:
        yield cv


@pytest.fixture
def sealed(cv):
    """GIVEN a 12-entry production chain, signed at 8, seen by the stream verifier and archived."""
    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, CHAIN, 8)
    container.checkpoints.checkpoint(tenant, CHAIN)
    append(container, tenant, CHAIN, 4, start=8)
    cv.drain()
    container.archiver.flush(chain_key(tenant, CHAIN), force=True)
    assert alarms(container, tenant) == []
    tamper = Tamperer(container.dynamodb, container.settings.table_name("journal"), chain_key(tenant, CHAIN))
    return container, tenant, tamper


def _stream_alarms(cv, container, tenant):
    cv.drain()  # one pass of the stream pump
    return [a for a in alarms(container, tenant) if a["chain"] == CHAIN]


def _first(found):
    assert found, "no tamper alarm was raised"
    return min(found, key=lambda a: a["seq"])


def test_an_untouched_chain_raises_nothing_and_its_archive_matches(cv, sealed):
    container, tenant, _ = sealed
    finding = container.full_verifier.verify(tenant, CHAIN)
    assert finding.ok, finding
    assert (finding.table_size, finding.archived_through, finding.checkpoint_size) == (12, 12, 8)


def test_a_changed_amount_is_an_alarm_at_its_seq(cv, sealed):
    container, tenant, tamper = sealed
    tamper.modify(5, lambda item: item["data"].update(n=999))
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"], first["source"]) == ("modified", 5, "stream:journal")
    assert "data.n" in first["detail"]


def _sale_of(cents):
    def change(item):
        item["data"] = {**item["data"], "n": cents}
    return change


def test_a_correctly_hashed_forged_append_is_an_alarm_and_is_never_signed(cv, sealed):
    """Issue 14's attack: write access to the journal table only, a new entry at the head with a
    correct hash and prev_hash. No write proof: the stream verifier flags it at once, the signer
    refuses to sign over it, the full verifier names it."""
    container, tenant, tamper = sealed
    forged = tamper.append_forged(_sale_of(50_000))
    assert forged == 13
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"], first["source"]) == ("missing_write_proof", 13, "stream:journal")
    with pytest.raises(SigningRefused) as refused:
        container.checkpoints.checkpoint(tenant, CHAIN)
    assert (refused.value.reason, refused.value.first_bad_seq) == ("missing_write_proof", 13)
    assert container.checkpoints.latest(tenant, CHAIN).checkpoint.size == 8  # nothing was signed over it
    finding = container.full_verifier.verify(tenant, CHAIN)
    assert (finding.ok, finding.reason, finding.seq) == (False, "missing_write_proof", 13)


def test_a_forged_append_carrying_a_proof_copied_from_a_real_entry_is_an_alarm(cv, sealed):
    container, tenant, tamper = sealed
    tamper.append_forged(_sale_of(50_000), proof_from=12)
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"]) == ("bad_write_proof", 13)
    with pytest.raises(SigningRefused) as refused:
        container.checkpoints.checkpoint(tenant, CHAIN)
    assert (refused.value.reason, refused.value.first_bad_seq) == ("bad_write_proof", 13)


def test_a_rewrite_with_every_later_hash_recomputed_is_an_alarm_at_the_first_rewritten_seq(cv, sealed):
    container, tenant, tamper = sealed
    tamper.modify(5, lambda item: item["data"].update(n=999))
    tamper.rehash_from(5)
    found = _stream_alarms(cv, container, tenant)
    assert _first(found)["seq"] == 5
    assert {a["seq"] for a in found} == set(range(5, 13))


def test_a_deleted_middle_entry_is_an_alarm(cv, sealed):
    container, tenant, tamper = sealed
    tamper.delete(6)
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"]) == ("removed", 6)


def test_a_truncated_tail_is_an_alarm_at_its_first_seq(cv, sealed):
    container, tenant, tamper = sealed
    for seq in range(12, 6, -1):
        tamper.delete(seq)
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"]) == ("removed", 7)


def test_a_truncated_tail_is_also_reported_by_the_full_verifier(cv, sealed):
    container, tenant, tamper = sealed
    for seq in range(12, 6, -1):
        tamper.delete(seq)
    finding = container.full_verifier.verify(tenant, CHAIN)
    assert (finding.ok, finding.seq) == (False, 7)
    assert finding.reason in ("truncated", "rollback")
    assert "the archive holds entries up to seq 12" in finding.detail


def test_an_inserted_entry_is_an_alarm(cv, sealed):
    container, tenant, tamper = sealed
    for seq in range(12, 9, -1):
        item = tamper.read(seq)
        item["sk"] = seq + 1
        tamper.write(item)
    forged = tamper.read(9)
    forged.update(sk=10, seq=10, prev_hash=forged["hash"], data={"n": 99999, "note": "forged"})
    tamper.write(forged)
    tamper.rehash_from(10)
    found = _stream_alarms(cv, container, tenant)
    assert _first(found)["seq"] == 10
    assert any(a["seq"] == 13 and a["reason"] in ("out_of_order", "broken_link", "modified") for a in found)


def test_two_swapped_entries_are_an_alarm_at_the_first(cv, sealed):
    container, tenant, tamper = sealed
    tamper.swap(3, 4)
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"]) == ("modified", 3)


def test_an_entry_appended_behind_the_applications_back_with_a_bad_link_is_an_alarm(cv, sealed):
    container, tenant, tamper = sealed
    forged = tamper.read(12)
    forged.update(sk=13, seq=13, prev_hash="ab" * 32)
    tamper.write(forged)
    reasons = {(a["reason"], a["seq"]) for a in _stream_alarms(cv, container, tenant)}
    assert ("broken_link", 13) in reasons


def test_a_deleted_and_rewritten_last_entry_is_an_alarm(cv, sealed):
    container, tenant, tamper = sealed
    original = tamper.read(12)
    tamper.delete(12)
    original["data"] = {"n": 1, "note": "rewritten"}
    tamper.write(original)
    tamper.rehash_from(12)
    reasons = {(a["reason"], a["seq"]) for a in _stream_alarms(cv, container, tenant)}
    assert ("removed", 12) in reasons
    assert ("reinserted", 12) in reasons


def _put_checkpoint(container, forged, frontier):
    container.dynamodb.put_item(
        TableName=container.settings.table_name("checkpoints"),
        Item={"pk": {"S": forged.chain_key}, "sk": {"N": str(forged.size)}, "text": {"S": forged.to_text()},
              "frontier": {"L": [{"S": h} for h in frontier]}},
    )


def test_a_checkpoint_re_signed_with_another_key_is_an_alarm(cv, sealed, tmp_path):
    container, tenant, _ = sealed
    stored = container.checkpoint_store.latest(chain_key(tenant, CHAIN))
    rogue = LocalSigner(tmp_path, "rogue")
    cp = stored.checkpoint
    unsigned = Checkpoint(cp.chain_key, cp.size, cp.root, cp.timestamp, rogue.key_id)
    _put_checkpoint(container, unsigned.with_signature(rogue.sign(unsigned.signed_message())), stored.frontier)
    first = _first(_stream_alarms(cv, container, tenant))
    assert (first["reason"], first["seq"], first["source"]) == ("checkpoint_modified", 8, "stream:checkpoints")
    finding = container.full_verifier.verify(tenant, CHAIN)
    assert (finding.reason, finding.seq) == ("key_not_valid", 8)


def test_a_replaced_public_key_is_found_by_the_full_verifier(cv, sealed, tmp_path):
    container, tenant, _ = sealed
    rogue = LocalSigner(tmp_path, "rogue")
    current = container.key_registry.published()[-1]
    # A database writer (IAM does not hold one: they may write any table) swaps the PEM in the keys table.
    container.dynamodb.put_item(
        TableName=container.settings.table_name("keys"),
        Item={"pk": {"S": "KEYS"}, "sk": {"S": current.key_id}, "not_before": {"S": current.not_before},
              "public_key_pem": {"S": rogue.public_key_pem()}},
    )
    try:
        finding = container.full_verifier.verify(tenant, CHAIN)
        # The swapped key is refused (its PEM does not match its id's fingerprint): the checkpoints it
        # signed have no valid published key (decision 0019; it was a bad signature before).
        assert (finding.ok, finding.reason, finding.seq) == (False, "key_not_valid", 8)
        assert any(a["source"] == "full" and a["seq"] == 8 for a in alarms(container, tenant))
        key_alarms = [a for a in alarms(container, PLATFORM_TENANT) if a["reason"] == "key_mismatch"]
        assert any(current.key_id in a["detail"] and a["source"] == "key_registry" for a in key_alarms)
    finally:
        container.checkpoint_store.put_key(current)


def _signer_alarms(container, tenant):
    return [(a["reason"], a["seq"]) for a in alarms(container, tenant) if a["source"] == "signer"]


def test_the_scheduled_signer_refuses_a_modified_entry_and_names_its_seq(cv, sealed):
    container, tenant, tamper = sealed
    tamper.modify(10, lambda item: item["data"].update(n=999))
    run = container.checkpoint_signer.run(tenants=[tenant])
    assert [(t, c) for t, c, _ in run.refused] == [(tenant, CHAIN)] and "hash_mismatch at seq 10" in run.refused[0][2]
    assert container.checkpoint_store.latest(chain_key(tenant, CHAIN)).checkpoint.size == 8
    assert _signer_alarms(container, tenant) == [("hash_mismatch", 10)]


def test_a_gap_is_not_signed_as_a_shorter_tree(cv, sealed):
    container, tenant, tamper = sealed
    tamper.delete(10)
    with pytest.raises(SigningRefused) as caught:
        container.checkpoints.checkpoint(tenant, CHAIN)
    assert (caught.value.reason, caught.value.first_bad_seq) == ("gap", 10)
    assert container.checkpoint_store.latest(chain_key(tenant, CHAIN)).checkpoint.size == 8
    assert _signer_alarms(container, tenant) == [("gap", 10)]


def test_a_tampered_frontier_attribute_never_makes_the_signer_sign_a_wrong_root(cv, sealed):
    container, tenant, _ = sealed
    stored = container.checkpoint_store.latest(chain_key(tenant, CHAIN))
    true_root = container.checkpoints.root_at(tenant, CHAIN, 12)
    # One write to the unsigned frontier attribute of the checkpoint item at size 8
    container.dynamodb.update_item(
        TableName=container.settings.table_name("checkpoints"),
        Key={"pk": {"S": chain_key(tenant, CHAIN)}, "sk": {"N": "8"}},
        UpdateExpression="SET frontier = :f", ExpressionAttributeValues={":f": {"L": [{"S": "00" * 32}]}},
    )
    signed = container.checkpoints.checkpoint(tenant, CHAIN)
    assert (signed.size, signed.root) == (12, true_root)
    assert stored.checkpoint.size == 8 and ("frontier_mismatch", 8) in _signer_alarms(container, tenant)


def test_a_redelivered_batch_raises_nothing_twice(cv, sealed):
    container, tenant, tamper = sealed
    saved = (cv.data_dir / "pump.json").read_text()
    tamper.modify(5, lambda item: item["data"].update(n=999))
    cv.drain()
    before = alarms(container, tenant)
    state = container.ops_store.chain_state(chain_key(tenant, CHAIN))
    # WHEN the same records are delivered again (a pump restarted from an older position)
    (cv.data_dir / "replay.json").write_text(saved)
    assert cv.pump(fresh=True, state_file=cv.data_dir / "replay.json").drain() > 0
    # THEN nothing is raised or archived twice
    assert alarms(container, tenant) == before
    assert container.ops_store.chain_state(chain_key(tenant, CHAIN)) == state


def test_an_expired_event_swept_after_archiving_is_not_an_alarm_but_a_deleted_event_is(cv):
    # GIVEN events recorded 31 days ago (their ttl has passed), verified and pending archive
    from chalicelib.services.events import HOT_DAYS, EventJournal
    from chalicelib.services.sealing import ChainWriter

    long_ago = datetime.now(UTC) - timedelta(days=HOT_DAYS + 1)
    container = cv.container()
    tenant = new_tenant()
    old = EventJournal(ChainWriter(container.events_store, clock=lambda: long_ago, ttl_seconds=HOT_DAYS * 86400,
                                   prover=container.write_proofs))
    for _ in range(3):
        old.record(tenant, "signout", actor="u1")
    container.event_journal.record(tenant, "signout", actor="u1")  # a fresh one, still hot
    cv.drain()
    # WHEN the local sweeper runs, then the stream is pumped
    run = container.expiry_sweeper.run()
    cv.drain()
    # THEN the three expired events are archived and gone from the table, with no alarm
    events_key = chain_key(tenant, "events")
    assert sorted(seq for pk, seq in run.deleted if pk == events_key) == [1, 2, 3]
    assert [r["seq"] for r in container.archive.records(events_key)][:3] == [1, 2, 3]
    assert alarms(container, tenant) == []
    # AND the events chain still verifies, from the archive then the table
    assert container.full_verifier.verify(tenant, "events").ok
    # WHEN someone deletes a hot event, THEN it is an alarm
    Tamperer(container.dynamodb, container.settings.table_name("events"), events_key).delete(4)
    found = [(a["reason"], a["seq"]) for a in _alarms_after_drain(cv, container, tenant)]
    assert ("removed", 4) in found


def _alarms_after_drain(cv, container, tenant):
    cv.drain()
    return alarms(container, tenant)


def test_the_checkpoint_every_n_entries_is_signed_by_the_stream_not_by_the_request(cv):
    """Issue 14 item 7 / 12: the 100th sale's request signs nothing; the journal stream does."""
    container = cv.container()
    tenant = new_tenant()
    every = container.settings.checkpoint_every
    append(container, tenant, CHAIN, every + 1)
    assert container.checkpoints.latest(tenant, CHAIN) is None  # nothing was signed on the write path
    cv.drain()
    signed = container.checkpoints.latest(tenant, CHAIN)
    assert signed is not None and signed.checkpoint.size >= every  # the head when the stream saw entry N
    assert alarms(container, tenant) == []
