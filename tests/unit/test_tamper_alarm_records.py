"""Alarm records are authenticated (decision 0032): an alarm's id is computed from what a stream
record shows, so whoever could write to the ops table stored it *before* changing an entry, and the
real alarm, found "raised before", was silent (an outside attacker's trial did: no log, no event,
no mail, and the entry served as verified). A record this platform did not write silences nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.adapters.write_proofs import LocalWriteProofs
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.write_proofs import WriteProof, proof_attributes
from chalicelib.services.tamper_alarms import FORGED_NOTE, AlarmService, TamperAlarm, alarm_message

TENANT = "t0123456789abcdef0123"
ALARM = TamperAlarm(TENANT, "prod.sales.P2", 3, "modified", "seq 3: the entry was changed after sealing",
                    "stream:journal", "MODIFY@000012@arn:aws:dynamodb:eu-west-1:1:table/journal/stream/x")


class Journal:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def record(self, tenant, kind, *, actor, details) -> None:
        self.events.append({"tenant": tenant, "kind": kind, **details})


@pytest.fixture
def world(tmp_path):
    ops, journal = InMemoryOpsStore(), Journal()
    proofs = LocalWriteProofs(tmp_path)
    service = AlarmService(ops, lambda: journal, proofs=proofs, clock=lambda: datetime(2026, 12, 6, 6, 0, tzinfo=UTC))
    return service, ops, journal, proofs


def _planted(alarm: TamperAlarm, **extra) -> dict:
    """What an attacker writes beforehand: the alarm's own fields, with whatever proof they can make."""
    return {"tenant_id": alarm.tenant_id, "chain": alarm.chain, "seq": alarm.seq, "reason": alarm.reason,
            "detail": "nothing to see", "source": alarm.source, "evidence": alarm.evidence,
            "alarm_id": alarm.alarm_id, "raised_at": "2026-12-06T05:00:00.000000Z", **extra}


def test_a_genuine_alarm_is_announced_once_and_its_repeat_is_silent(world):
    service, ops, journal, proofs = world
    assert service.raise_alarm(ALARM) is True
    assert service.raise_alarm(ALARM) is False  # the stream delivers the same record again
    assert [e["alarm_id"] for e in journal.events] == [ALARM.alarm_id]
    stored = ops.get(f"ALARM#{TENANT}", ALARM.alarm_id)
    assert proofs.problem(alarm_message(TENANT, stored), WriteProof(stored["proof_key"], stored["proof_mac"])) is None


@pytest.mark.parametrize("proof", ["none", "random mac", "another key", "proof of other fields"])
def test_a_record_planted_under_the_alarms_id_does_not_silence_it(world, tmp_path, proof):
    service, ops, journal, proofs = world
    planted = _planted(ALARM)
    if proof == "random mac":
        planted.update(proof_attributes(WriteProof(proofs.key_id, "A" * 43 + "=")))
    elif proof == "another key":
        other = LocalWriteProofs(tmp_path / "attacker")
        planted.update(proof_attributes(other.prove(alarm_message(TENANT, planted))))
    elif proof == "proof of other fields":  # a genuine proof of another alarm, copied over
        other_alarm = _planted(ALARM, seq=1)
        planted.update(proof_attributes(proofs.prove(alarm_message(TENANT, other_alarm))))
    assert ops.put_once(f"ALARM#{TENANT}", ALARM.alarm_id, planted)
    # WHEN the entry is changed and its stream record raises the alarm
    assert service.raise_alarm(ALARM) is True
    # THEN it is announced, saying a record it did not write stood in its place, and stored as ours
    [event] = journal.events
    assert event["kind"] == "tamper_alarm" and (event["chain"], event["seq"]) == (ALARM.chain, ALARM.seq)
    assert event["detail"].startswith(FORGED_NOTE)
    ours = ops.get(f"ALARM#{TENANT}", f"{ALARM.alarm_id}#2")
    assert ours["detail"].startswith(FORGED_NOTE) and ours["proof_key"] == proofs.key_id
    listed, _ = service.list_all(limit=10)
    assert [i["alarm_id"] for i in listed] == [ALARM.alarm_id] and listed[0]["detail"].startswith(FORGED_NOTE)
    # and a repeat of the same stream record is silent: our own record now answers for it
    assert service.raise_alarm(ALARM) is False and len(journal.events) == 1


def test_a_genuine_record_of_another_alarm_copied_under_this_id_does_not_silence_it(world):
    """The second outside trial: a real alarm record (another chain, seq and evidence, its proof
    valid for those fields) copied under the id of the alarm to come silenced it, when the proof was
    checked against the stored fields rather than against the alarm being raised."""
    service, ops, journal, _ = world
    earlier = TamperAlarm(TENANT, "prod.sales.R4", 5, "removed", "seq 5: removed", "stream:journal", "REMOVE@1@arn")
    assert service.raise_alarm(earlier) is True
    copy = ops.get(f"ALARM#{TENANT}", earlier.alarm_id)
    assert copy["proof_mac"]
    assert ops.put_once(f"ALARM#{TENANT}", ALARM.alarm_id, {k: v for k, v in copy.items() if k not in ("pk", "sk")})
    assert service.raise_alarm(ALARM) is True
    assert [e["alarm_id"] for e in journal.events] == [earlier.alarm_id, ALARM.alarm_id]
    assert journal.events[-1]["detail"].startswith(FORGED_NOTE)
    assert service.raise_alarm(ALARM) is False  # ours, under <id>#2, answers for it now


def test_when_both_places_hold_planted_records_every_delivery_is_announced(world):
    service, ops, journal, _ = world
    ops.put_once(f"ALARM#{TENANT}", ALARM.alarm_id, _planted(ALARM))
    ops.put_once(f"ALARM#{TENANT}", f"{ALARM.alarm_id}#2", _planted(ALARM))
    assert service.raise_alarm(ALARM) is True and service.raise_alarm(ALARM) is True
    assert len(journal.events) == 2 and all(e["detail"].startswith(FORGED_NOTE) for e in journal.events)


def test_a_record_that_cannot_be_checked_now_is_announced_again_rather_than_trusted(world, monkeypatch):
    service, _, journal, proofs = world
    assert service.raise_alarm(ALARM) is True

    def down(message, proof):
        raise Unavailable("KMS VerifyMac throttled")

    monkeypatch.setattr(proofs, "problem", down)
    assert service.raise_alarm(ALARM) is True  # a duplicate announcement, never a silent one
    assert len(journal.events) == 2


def test_an_alarm_raised_while_the_key_service_is_down_goes_out_unproven(world, monkeypatch):
    service, ops, journal, proofs = world

    def down(message):
        raise Unavailable("KMS GenerateMac throttled")

    monkeypatch.setattr(proofs, "prove", down)
    assert service.raise_alarm(ALARM) is True and len(journal.events) == 1
    assert "proof_mac" not in ops.get(f"ALARM#{TENANT}", ALARM.alarm_id)
