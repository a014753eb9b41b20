"""On-demand verification of the event journal through the HTTP API (invariant I6): an untouched
``events`` chain verifies, including when its oldest entries have expired from the hot table
after being archived, and raises nothing; a tampered event is reported at its seq and alarms.

Requested by an auditor (read-only): a verification they ask for can only raise an alarm when
the data is really wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.permissions import Permission, Role, allows
from chalicelib.domain.records import chain_key
from tests.support.continuous import alarms, new_tenant, private_stack
from tests.support.fake_access import OneTenantAccess, RoleTokens
from tests.support.tamper import Tamperer

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-events-verification")) as cv:
        # an operator to mail: integrity anomalies (ALERT) go there
        cv.settings = cv.settings.model_copy(update={"operator_email": "ops@scelle.example"})
        yield cv


@pytest.fixture
def shop(cv, monkeypatch):
    """A tenant on the private stack, its API as an auditor, and the metrics counted."""
    from app import app
    from chalicelib import observability
    from tests.support.client import ApiClient

    tenant = new_tenant()
    container = cv.container(token_verifier=RoleTokens(), access=OneTenantAccess(tenant))
    metrics: list[str] = []
    real = observability.count
    monkeypatch.setattr(observability, "count", lambda name, value=1: (metrics.append(name), real(name, value)))
    cv.mailer.sent.clear()
    assert allows(Role.AUDITOR, Permission.LEDGER_VERIFY)
    return container, tenant, ApiClient(app).with_token("token-auditor"), metrics


def _journal(container, tenant: str, n: int) -> None:
    for i in range(n):
        container.event_journal.record(tenant, "config_changed", actor="u-admin", details={"n": i})


def _quiet(cv, container, tenant: str, metrics: list[str]) -> None:
    """Nothing was raised: no alarm, no anomaly, no verification_failed event, no mail, no metric."""
    cv.drain()
    assert alarms(container, tenant) == []
    assert container.anomalies.list(tenant)[0] == []
    kinds = [r.data["kind"] for r in container.events_store.scan(chain_key(tenant, "events"))]
    assert "verification_failed" not in kinds and "anomaly" not in kinds
    assert cv.mailer.sent == []
    assert "VerificationFailures" not in metrics and "Anomalies" not in metrics


def test_an_untouched_events_chain_verifies_through_the_api_and_raises_nothing(cv, shop):
    container, tenant, auditor, metrics = shop
    # GIVEN an event journal of 37 events, streamed (verified, registered) and signed at 37
    _journal(container, tenant, 37)
    cv.drain()
    assert container.events_checkpoints.checkpoint(tenant, "events").size == 37
    # WHEN an auditor asks for its verification
    reply = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events"})
    # THEN it is ok, covered by the signed checkpoint, and nothing was raised
    assert reply.status == 200, reply
    assert (reply.json["ok"], reply.json["reason"], reply.json["verified_size"], reply.json["proven_size"]) == (
        True, "ok", 37, 37)
    ranged = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events", "first_seq": 5, "last_seq": 20})
    assert ranged.status == 200 and ranged.json["ok"] is True, ranged
    _quiet(cv, container, tenant, metrics)


def test_an_events_chain_whose_oldest_events_expired_after_archiving_still_verifies(cv, shop):
    from chalicelib.services.events import HOT_DAYS, EventJournal
    from chalicelib.services.sealing import ChainWriter

    container, tenant, auditor, metrics = shop
    # GIVEN 3 events recorded 31 days ago and 2 fresh ones, signed, then the old ones archived
    # and expired from the hot table (the local TTL sweep, decision 0006)
    long_ago = datetime.now(UTC) - timedelta(days=HOT_DAYS + 1)
    old = EventJournal(ChainWriter(container.events_store, clock=lambda: long_ago, ttl_seconds=HOT_DAYS * 86400,
                                   prover=container.write_proofs))
    for _ in range(3):
        old.record(tenant, "signout", actor="u1")
    _journal(container, tenant, 2)
    cv.drain()
    container.events_checkpoints.checkpoint(tenant, "events")
    container.expiry_sweeper.run()
    cv.drain()
    key = chain_key(tenant, "events")
    assert [item["seq"] for item in container.events_store.raw_items(key)] == [4, 5]
    # WHEN an auditor verifies the chain, and a range that lies wholly in the archive
    whole = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events"})
    archived = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events", "first_seq": 2, "last_seq": 3})
    # THEN both verify (from the archive, then the table) and nothing is raised
    assert whole.status == 200 and whole.json["ok"] is True, whole
    assert (whole.json["verified_size"], whole.json["proven_size"]) == (5, 5)
    assert archived.status == 200 and archived.json["ok"] is True and archived.json["verified_size"] == 3, archived
    _quiet(cv, container, tenant, metrics)
    # AND the scheduled full verifier agrees
    assert container.full_verifier.verify(tenant, "events").ok


def test_a_tampered_event_is_reported_at_its_seq_and_raises_the_alarm(cv, shop):
    container, tenant, auditor, metrics = shop
    # GIVEN a signed event journal whose event 6 was changed behind the application's back
    _journal(container, tenant, 9)
    cv.drain()
    container.events_checkpoints.checkpoint(tenant, "events")
    key = chain_key(tenant, "events")
    Tamperer(container.dynamodb, container.settings.table_name("events"), key).modify(
        6, lambda item: item["data"]["details"].update(n=999))
    # WHEN an auditor verifies the chain
    reply = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events"})
    # THEN the report names the first bad seq, and the failure is counted, journaled and mailed
    assert reply.status == 200, reply
    assert (reply.json["ok"], reply.json["first_bad_seq"], reply.json["reason"]) == (False, 6, "hash_mismatch")
    assert "VerificationFailures" in metrics
    cv.drain()
    failed = [r.data for r in container.events_store.scan(key) if r.data["kind"] == "verification_failed"]
    assert [(d["details"]["chain"], d["details"]["first_bad_seq"]) for d in failed] == [("events", 6)]
    rules = [(a["rule"], a["severity"]) for a in container.anomalies.list(tenant)[0]]
    assert ("integrity", "critical") in rules
    assert any(to == "ops@scelle.example" and "ALERT" in subject and "seq 6" in subject
               for to, subject, _ in cv.mailer.sent)


def test_a_checkpoint_of_the_event_journal_is_signed_on_request(cv, shop):
    """``POST …/checkpoints {"chain": "events"}`` answered 404 "no entry yet" for a journal of
    hundreds: the request went to the signer of the journal table, where the events are not."""
    from app import app
    from tests.support.client import ApiClient

    container, tenant, _, _ = shop
    _journal(container, tenant, 5)
    cv.drain()
    admin = ApiClient(app).with_token("token-admin")
    signed = admin.post(f"/v1/tenants/{tenant}/checkpoints", {"chain": "events"})
    assert signed.status == 201, signed
    assert signed.json["size"] == container.events_store.head(chain_key(tenant, "events")).seq >= 5
    listed = admin.get(f"/v1/tenants/{tenant}/checkpoints?chain=events")
    assert listed.status == 200 and listed.json["checkpoints"][-1]["size"] == signed.json["size"], listed


def test_a_chain_rolled_back_with_its_tail_removed_is_no_ok_on_demand(cv, shop):
    """An outside trial removed a chain's newest entries (and what pointed at them): the chain, as
    stored, verified, and ``POST …/verifications`` answered ok while the stream verifier had seen it
    longer. Verified to the head, it is now compared with its witnesses, as the scheduled pass does."""
    container, tenant, auditor, _ = shop
    _journal(container, tenant, 7)
    cv.drain()  # the stream verifier saw every event
    key = chain_key(tenant, "events")
    head = container.events_store.head(key).seq
    tamper = Tamperer(container.dynamodb, container.settings.table_name("events"), key)
    for seq in (head, head - 1):
        tamper.delete(seq)
    reply = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events"})
    assert reply.status == 200, reply
    assert (reply.json["ok"], reply.json["reason"], reply.json["first_bad_seq"]) == (False, "rollback", head - 1), \
        reply.json
    assert f"the stream verifier saw the chain reach seq {head}" in reply.json["detail"]
    assert reply.json["verified_size"] == head - 2  # what the table holds did verify
    assert any(a["reason"] == "rollback" for a in container.tamper_alarms.list(tenant)), "the rollback is alarmed"
    # a range that stops before the head is what it was: the stored entries, verified
    ranged = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events", "first_seq": 1, "last_seq": 3})
    assert ranged.json["ok"] is True, ranged.json


def test_entries_sealed_while_the_head_is_compared_raise_no_false_rollback(cv, shop, monkeypatch):
    """A shop keeps selling while its chain is verified to the head: the stream verifier may see
    the new entries before the comparison reads it. The table's head is read after every witness,
    so the table can only be longer than what they saw (read first, it raised a false rollback)."""
    container, tenant, auditor, _ = shop
    _journal(container, tenant, 4)
    cv.drain()
    archive = container.full_verifier._archive
    real_head = archive.head

    def head_while_selling(key):
        found = real_head(key)
        _journal(container, tenant, 2)  # sealed now, and seen by the stream verifier at once
        cv.drain()
        return found

    monkeypatch.setattr(archive, "head", head_while_selling)
    reply = auditor.post(f"/v1/tenants/{tenant}/verifications", {"chain": "events"})
    assert reply.status == 200 and reply.json["ok"] is True, reply.json
    assert not [a for a in container.tamper_alarms.list(tenant) if a["reason"] == "rollback"]


def test_an_export_of_a_chain_rolled_back_with_its_checkpoint_is_refused(cv, shop):
    """The second outside trial rolled a test-mode chain back with its newest checkpoint deleted (no
    witness co-signs test chains): the export finished done, an archive scelle verify then failed.
    The write-once archive's copy of that checkpoint says more was signed: the export is refused."""
    from chalicelib.services.export_archive import ChainNotAsSigned

    container, tenant, _, _ = shop
    _journal(container, tenant, 6)
    cv.drain()
    signed = container.events_checkpoints.checkpoint(tenant, "events").size
    cv.drain()  # the checkpoints stream copies it to the archive
    key = chain_key(tenant, "events")
    assert container.archive.newest_checkpoint_size(key) == signed
    tamper = Tamperer(container.dynamodb, container.settings.table_name("events"), key)
    for seq in (signed, signed - 1):
        tamper.delete(seq)
    container.dynamodb.delete_item(TableName=container.settings.table_name("checkpoints"),
                                   Key={"pk": {"S": key}, "sk": {"N": str(signed)}})
    source = container.exports._source_for(tenant)
    with pytest.raises(ChainNotAsSigned) as refused:
        source.end("events")
    assert f"the signed checkpoint covers {signed}" in refused.value.detail
