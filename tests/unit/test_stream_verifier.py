"""The stream verifier on in-memory stores: links, gaps, MODIFY/REMOVE alarms, TTL expiry, and
the batch semantics (idempotent, resumable, ordered, partial failures)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.adapters.archive_s3 import InMemoryObjectStore
from chalicelib.adapters.dynamodb_chain_store import to_item
from chalicelib.adapters.encryption import LocalAesEncryptor
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import GENESIS_PREV_HASH, chain_key, seal
from chalicelib.services.archive import Archive, Archiver, RetentionPolicy
from chalicelib.services.stream_verifier import (
    ChainStreamVerifier,
    ExpiryPolicy,
    StreamProcessor,
    parse_stream_record,
    sweep_ticket_pk,
    sweep_ticket_sk,
)
from chalicelib.services.tamper_alarms import AlarmService

EVENTS = Path(__file__).resolve().parents[1] / "events"
ARN = "arn:aws:dynamodb:eu-west-1:000000000000:table/x-journal/stream/local"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TENANT, CHAIN = "acme", "prod.sales.R1"
KEY = chain_key(TENANT, CHAIN)


class Journal:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, dict]] = []

    def record(self, tenant_id, kind, *, actor, details=None, training=False):
        self.recorded.append((tenant_id, kind, details))


def records(n: int, *, tenant=TENANT, chain=CHAIN, start_at=T0):
    out, prev = [], GENESIS_PREV_HASH
    for i in range(n):
        r = seal(tenant, chain, i + 1, "memo", start_at + timedelta(seconds=i), False, {"n": i}, prev)
        out.append(r)
        prev = r.hash
    return out


class Harness:
    def __init__(self, tmp_path: Path, table: str = "journal", *, segment_entries: int = 4, now=T0) -> None:
        self.now = now
        self.ops = InMemoryOpsStore()
        self.store = InMemoryChainStore()
        self.journal = Journal()
        self.alarms = AlarmService(self.ops, lambda: self.journal, clock=lambda: self.now)
        self.objects = InMemoryObjectStore()
        self.archive = Archive(self.objects, LocalAesEncryptor(tmp_path), RetentionPolicy(), clock=lambda: self.now)
        self.archiver = Archiver(self.ops, self.archive, segment_entries=segment_entries, clock=lambda: self.now)
        expiry = None
        if table == "events":
            expiry = ExpiryPolicy(self.ops, honour_local_tickets=True, clock=lambda: self.now)
        self.verifier = ChainStreamVerifier(table, ops=self.ops, store=self.store, alarms=self.alarms,
                                            archiver=self.archiver, expiry=expiry, clock=lambda: self.now)
        self.failures: list[int] = []
        self.processor = StreamProcessor(table, self.verifier, on_failures=self.failures.append)
        self.seq_no = 1000

    def event(self, name: str, *, new=None, old=None, key=None, identity=None, ttl=None) -> dict:
        self.seq_no += 1
        item = to_item(new, ttl) if new is not None else None
        old_item = to_item(old, ttl) if old is not None else None
        source = new or old
        record = {
            "eventID": str(self.seq_no), "eventName": name, "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
            "eventSourceARN": ARN,
            "dynamodb": {"Keys": {"pk": {"S": key or source.chain_key}, "sk": {"N": str(source.seq)}},
                         "SequenceNumber": str(self.seq_no), "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES",
                         "ApproximateCreationDateTime": int(T0.timestamp())},
        }
        if item:
            record["dynamodb"]["NewImage"] = item
        if old_item:
            record["dynamodb"]["OldImage"] = old_item
        if identity:
            record["userIdentity"] = identity
        return record

    def inserts(self, recs, *, ttl=None) -> list[dict]:
        for r in recs:
            self.store.append(r, ttl=ttl)
        return [self.event("INSERT", new=r, ttl=ttl) for r in recs]

    def run(self, events: list[dict]) -> list[str]:
        result = self.processor.process({"Records": events})
        return [f["itemIdentifier"] for f in result["batchItemFailures"]]

    def raised(self, tenant=TENANT) -> list[tuple[str, int]]:
        return sorted((a["reason"], a["seq"]) for a in self.alarms.list(tenant))


def test_entries_in_order_move_the_head_and_wait_for_the_archive(tmp_path):
    h = Harness(tmp_path, segment_entries=10)
    recs = records(3)
    assert h.run(h.inserts(recs)) == []
    state = h.ops.chain_state(KEY)
    assert (state.seq, state.hash, state.pending_seqs) == (3, recs[-1].hash, [1, 2, 3])
    assert h.raised() == []


def test_a_full_segment_is_archived_at_the_end_of_the_batch(tmp_path):
    h = Harness(tmp_path, segment_entries=4)
    assert h.run(h.inserts(records(5))) == []
    state = h.ops.chain_state(KEY)
    assert (state.archived_through, state.pending_seqs) == (4, [5])
    assert [r["seq"] for r in h.archive.records(KEY)] == [1, 2, 3, 4]


def test_a_redelivered_batch_changes_nothing(tmp_path):
    h = Harness(tmp_path, segment_entries=10)
    events = h.inserts(records(3))
    h.run(events)
    before = h.ops.chain_state(KEY)
    assert h.run(events) == []
    assert h.ops.chain_state(KEY) == before
    assert h.raised() == []


def test_an_entry_that_does_not_link_to_the_previous_one_is_an_alarm(tmp_path):
    h = Harness(tmp_path)
    recs = records(3)
    forged = seal(TENANT, CHAIN, 3, "memo", T0 + timedelta(seconds=9), False, {"n": 9}, "ab" * 32)
    h.run([*h.inserts(recs[:2]), h.event("INSERT", new=forged)])
    assert h.raised() == [("broken_link", 3)]
    assert h.journal.recorded[0][1] == "tamper_alarm"
    assert h.journal.recorded[0][2]["seq"] == 3


def test_entries_missing_from_the_stream_are_read_from_the_table_when_they_are_there(tmp_path):
    h = Harness(tmp_path, segment_entries=10)
    recs = records(5)
    events = h.inserts(recs)
    h.run(events[:2])
    h.run(events[4:])  # records 3 and 4 were lost on the way (a dead-lettered batch)
    assert h.raised() == []
    assert h.ops.chain_state(KEY).pending_seqs == [1, 2, 3, 4, 5]


def test_a_seq_missing_from_the_table_is_a_gap_at_that_seq(tmp_path):
    h = Harness(tmp_path)
    recs = records(5)
    events = h.inserts(recs)
    h.store.tamper_delete(KEY, 3)
    h.run(events[:2] + events[3:])
    assert ("gap", 3) in h.raised()


def test_an_inserted_record_whose_hash_does_not_match_its_content_is_an_alarm(tmp_path):
    h = Harness(tmp_path)
    rec = records(1)[0]
    event = h.event("INSERT", new=rec)
    event["dynamodb"]["NewImage"]["data"] = {"S": "{\"n\":42}"}
    h.run([event])
    assert h.raised() == [("hash_mismatch", 1)]


def test_a_modified_entry_is_an_alarm_naming_the_changed_fields(tmp_path):
    h = Harness(tmp_path)
    recs = records(2)
    h.run(h.inserts(recs))
    changed = h.event("MODIFY", new=recs[0], old=recs[0])
    changed["dynamodb"]["NewImage"]["data"] = {"S": "{\"n\":7}"}
    h.run([changed])
    alarm = h.alarms.list(TENANT)[0]
    assert (alarm["reason"], alarm["seq"]) == ("modified", 1)
    assert "data.n" in alarm["detail"]


def test_an_identical_re_put_is_no_change(tmp_path):
    h = Harness(tmp_path)
    recs = records(1)
    h.run([*h.inserts(recs), h.event("MODIFY", new=recs[0], old=recs[0])])
    assert h.raised() == []


def test_a_deleted_journal_entry_is_an_alarm(tmp_path):
    h = Harness(tmp_path)
    recs = records(2)
    h.run([*h.inserts(recs), h.event("REMOVE", old=recs[1])])
    assert h.raised() == [("removed", 2)]


def test_a_deleted_last_entry_written_again_is_an_alarm(tmp_path):
    h = Harness(tmp_path)
    recs = records(2)
    h.run([*h.inserts(recs), h.event("REMOVE", old=recs[1]), h.event("INSERT", new=recs[1])])
    assert h.raised() == [("reinserted", 2), ("removed", 2)]


def _events_harness(tmp_path, *, now):
    h = Harness(tmp_path, "events", segment_entries=2, now=now)
    recs = records(2, chain="events")
    ttl = int(T0.timestamp()) + 30 * 86400
    h.run(h.inserts(recs, ttl=ttl))
    h.archiver.flush(chain_key(TENANT, "events"), force=True)
    return h, recs, ttl


def test_an_expired_event_deleted_by_dynamodb_ttl_is_not_an_alarm(tmp_path):
    h, recs, ttl = _events_harness(tmp_path, now=T0 + timedelta(days=31))
    event = h.event("REMOVE", old=recs[0], ttl=ttl,
                    identity={"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    assert parse_stream_record(event, "events").by_ttl_service
    h.run([event])
    assert h.raised() == []


def test_an_expired_event_deleted_by_the_local_sweeper_is_not_an_alarm(tmp_path):
    h, recs, ttl = _events_harness(tmp_path, now=T0 + timedelta(days=31))
    h.ops.put_once(sweep_ticket_pk(recs[0].chain_key), sweep_ticket_sk(1), {"ttl": ttl})
    h.run([h.event("REMOVE", old=recs[0], ttl=ttl)])
    assert h.raised() == []


def test_an_event_deleted_by_anyone_else_is_an_alarm_even_when_expired(tmp_path):
    h, recs, ttl = _events_harness(tmp_path, now=T0 + timedelta(days=31))
    h.run([h.event("REMOVE", old=recs[0], ttl=ttl)])
    assert h.raised() == [("removed", 1)]


def test_an_event_deleted_by_the_ttl_process_before_its_time_is_an_alarm(tmp_path):
    h, recs, ttl = _events_harness(tmp_path, now=T0 + timedelta(days=3))
    h.run([h.event("REMOVE", old=recs[0], ttl=ttl,
                   identity={"type": "Service", "principalId": "dynamodb.amazonaws.com"})])
    assert h.raised() == [("removed", 1)]


def test_a_failing_record_fails_with_every_later_record_and_is_retried_alone(tmp_path):
    # GIVEN a batch whose third record cannot be handled (the alarm store is down)
    h = Harness(tmp_path, segment_entries=10)
    recs = records(4)
    forged = seal(TENANT, CHAIN, 3, "memo", T0, False, {"n": 9}, "cd" * 32)
    events = [*h.inserts(recs[:2]), h.event("INSERT", new=forged), h.event("INSERT", new=recs[3])]
    original = h.alarms.raise_alarm
    h.alarms.raise_alarm = lambda alarm: (_ for _ in ()).throw(Unavailable("ops down"))
    # WHEN the batch runs, THEN records 3 and 4 are reported failed, 1 and 2 are saved
    assert h.run(events) == [events[2]["dynamodb"]["SequenceNumber"], events[3]["dynamodb"]["SequenceNumber"]]
    assert h.ops.chain_state(KEY).seq == 2
    assert h.failures == [2]
    # WHEN the failed part is retried after the outage, THEN it is handled once, in order
    h.alarms.raise_alarm = original
    assert h.run(events[2:]) == []
    assert h.raised() == [("broken_link", 3), ("broken_link", 4)]  # 4 links to the real 3, not the forged one
    assert h.ops.chain_state(KEY).seq == 4


def test_a_state_that_cannot_be_saved_fails_the_chain_from_its_first_record(tmp_path):
    h = Harness(tmp_path, segment_entries=10)
    other = records(1, tenant="other")
    mine = records(2)
    events = h.inserts(other) + h.inserts(mine)
    h.ops.fail_next = Unavailable("throttled")
    failed = h.run(events)
    # the first chain's write failed: everything from its first record is retried
    assert failed == [e["dynamodb"]["SequenceNumber"] for e in events]
    assert h.run(events) == []
    assert h.ops.chain_state(KEY).seq == 2
    assert h.ops.chain_state(chain_key("other", CHAIN)).seq == 1


def test_the_sample_lambda_events_parse(tmp_path):
    insert = json.loads((EVENTS / "dynamodb_stream_insert.json").read_text())
    ttl = json.loads((EVENTS / "dynamodb_stream_remove_ttl.json").read_text())
    change = parse_stream_record(insert["Records"][0], "journal")
    assert (change.event, change.seq, change.pk) == ("INSERT", 1, "TENANT#demo#CHAIN#prod.sales.R1")
    assert parse_stream_record(ttl["Records"][0], "events").by_ttl_service


@pytest.mark.parametrize("name", ["dynamodb_stream_insert.json", "dynamodb_stream_modify.json"])
def test_the_sample_stream_events_verify_as_documented(tmp_path, name):
    event = json.loads((EVENTS / name).read_text())
    h = Harness(tmp_path)
    h.run(json.loads((EVENTS / "dynamodb_stream_insert.json").read_text())["Records"])
    if name.endswith("modify.json"):
        h.run(event["Records"])
        assert h.raised(tenant="demo") == [("modified", 1)]
    else:
        assert h.raised(tenant="demo") == []
