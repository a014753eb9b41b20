"""Scheduled work on the embedded SQS (decision 0028): units of different chains never wait on
each other, a failing unit is retried then dead-lettered, a long chain is verified in slices, and
the API's on-demand signing request reaches the signing worker as Lambda would deliver it."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.records import chain_key
from chalicelib.local.lambda_events import LocalContext
from chalicelib.local.queue_pump import QueuePump
from chalicelib.ports.work import ChainUnit
from chalicelib.services.scheduled_work import ChainVerificationWork
from tests.support.continuous import append, new_tenant, private_stack

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-work")) as cv:
        yield cv


def _queue_url(container, logical):
    return container.client("sqs").get_queue_url(QueueName=container.settings.queue_name(logical))["QueueUrl"]


def test_a_failing_chain_never_holds_up_another_and_ends_in_the_dead_letter_queue(cv, monkeypatch):
    from app import app

    container = cv.container()
    sqs = container.client("sqs")
    # A short visibility timeout so that the test sees SQS's retries (the stack's is 6 x 120 s).
    sqs.set_queue_attributes(QueueUrl=_queue_url(container, "sign-work"), Attributes={"VisibilityTimeout": "0"})
    broken, healthy = new_tenant(), new_tenant()
    append(container, broken, "prod.journal", 3)
    append(container, healthy, "prod.journal", 3)
    signer = container.checkpoint_signer
    real = signer._one

    def one(tenant_id, chain, run):
        if tenant_id == broken:
            raise RuntimeError("KMS is unreachable for this chain")
        return real(tenant_id, chain, run)

    monkeypatch.setattr(signer, "_one", one)
    from chalicelib import bootstrap

    monkeypatch.setattr(bootstrap, "container", lambda: container)
    container.work_queues.send([ChainUnit("sign", broken, "prod.journal"), ChainUnit("sign", healthy, "prod.journal")],
                               window="test-1")
    pump = QueuePump(app, sqs, container.settings, region=container.settings.region)
    for _ in range(8):  # max_receives = 5: then moved to the dead-letter queue
        pump.run_once()
    assert container.checkpoints.latest(healthy, "prod.journal").checkpoint.size == 3
    assert container.checkpoints.latest(broken, "prod.journal") is None
    dead = sqs.receive_message(QueueUrl=_queue_url(container, "sign-work-dlq"), MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in dead.get("Messages", [])]
    assert [b["tenant_id"] for b in bodies] == [broken]


def test_the_on_demand_request_reaches_the_signing_worker_as_lambda_delivers_it(cv, monkeypatch):
    """Lambda hands a plain function the payload as sent; a schedule handler would have wrapped it
    in an EventBridge event and failed on its missing fields."""
    from app import app
    from chalicelib import bootstrap

    container = cv.container()
    monkeypatch.setattr(bootstrap, "container", lambda: container)
    tenant = new_tenant()
    append(container, tenant, "prod.journal", 4)
    answer = app.handler_map["sign_chain"]({"action": "sign", "tenant_id": tenant, "chain": "prod.journal"},
                                           LocalContext("sign_chain"))
    from chalicelib.domain.checkpoint import Checkpoint

    assert Checkpoint.from_text(answer["checkpoint"]).size == 4
    for n in range(3):  # the event journal, in the events table (it was "no entry yet")
        container.event_journal.record(tenant, "config_changed", actor="u-admin", details={"n": n})
    events = app.handler_map["sign_chain"]({"action": "sign", "tenant_id": tenant, "chain": "events"},
                                           LocalContext("sign_chain"))
    assert events["checkpoint"] is not None, events
    assert Checkpoint.from_text(events["checkpoint"]).size == container.events_store.head(
        f"TENANT#{tenant}#CHAIN#events").seq
    refused = app.handler_map["sign_chain"]({"action": "sign", "tenant_id": 7}, LocalContext("sign_chain"))
    assert refused["refused"]["reason"] == "bad_request"


def test_a_long_chain_is_verified_in_slices_from_signed_checkpoints_and_a_rewrite_is_named(cv):
    container = cv.container()
    tenant = new_tenant()
    for _ in range(3):
        append(container, tenant, "prod.journal", 5)
        container.checkpoints.checkpoint(tenant, "prod.journal")  # at 5, 10, 15
    append(container, tenant, "prod.journal", 2)
    work = ChainVerificationWork(deriver=container.event_deriver, full_verifier=container.full_verifier,
                                 journal_store=container.journal_store, events_store=container.events_store,
                                 checkpoint_store=container.checkpoint_store, queues=container.work_queues,
                                 slice_entries=6)
    unit, findings = ChainUnit("verify", tenant, "prod.journal"), []
    url = _queue_url(container, "verify-work")
    while unit is not None:
        findings.append(work.run(unit).finding)
        got = container.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
        unit = ChainUnit.from_message(json.loads(got[0]["Body"])) if got else None
        if got:
            container.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert [f.ok for f in findings] == [True, True, True, True]  # 1-5, 6-10, 11-15, 16-head
    assert findings[-1].table_size == 17  # the last slice reached the head and met the witnesses

    # A rewrite inside the second slice is found by that slice, named at its seq.
    key = chain_key(tenant, "prod.journal")
    item = container.dynamodb.get_item(TableName=container.settings.table_name("journal"),
                                       Key={"pk": {"S": key}, "sk": {"N": "8"}})["Item"]
    item["data"] = {"S": item["data"]["S"].replace("memo", "mem0")} if "S" in item.get("data", {}) else item["data"]
    item["hash"] = {"S": "0" * 64}
    container.dynamodb.put_item(TableName=container.settings.table_name("journal"), Item=item)
    finding = work.run(ChainUnit("verify", tenant, "prod.journal", from_seq=6)).finding
    assert not finding.ok and finding.seq == 8
    assert not container.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages")


def test_the_hourly_pass_reads_what_is_new_and_the_weekly_full_pass_names_an_old_rewrite(cv, monkeypatch):
    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, "prod.journal", 5)
    container.checkpoints.checkpoint(tenant, "prod.journal")
    work = container.chain_verification_work
    starts = []
    real = container.full_verifier.verify

    def spy(tenant_id, chain, **kw):
        starts.append(kw.get("first_seq", 1))
        return real(tenant_id, chain, **kw)

    monkeypatch.setattr(container.full_verifier, "verify", spy)
    assert work.run(ChainUnit("verify", tenant, "prod.journal")).finding.ok
    append(container, tenant, "prod.journal", 3, start=5)
    container.checkpoints.checkpoint(tenant, "prod.journal")
    assert work.run(ChainUnit("verify", tenant, "prod.journal")).finding.ok
    assert starts == [1, 6]  # the second hour resumed after the checkpoint the first one proved

    key = chain_key(tenant, "prod.journal")
    table = container.settings.table_name("journal")
    item = container.dynamodb.get_item(TableName=table, Key={"pk": {"S": key}, "sk": {"N": "2"}})["Item"]
    item["hash"] = {"S": "f" * 64}
    container.dynamodb.put_item(TableName=table, Item=item)
    finding = work.run(ChainUnit("verify", tenant, "prod.journal", full=True)).finding
    assert not finding.ok and finding.seq == 2


def test_a_signing_unit_tiles_a_chain_signed_before_tiles(cv):
    """Decision 0026: a chain whose checkpoints predate tiles gets them from its next signing unit,
    so that its proofs stop reading the whole chain."""
    from chalicelib.domain.tiles import edge_tiles

    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, "prod.journal", 300)
    container.checkpoints.checkpoint(tenant, "prod.journal")
    key = chain_key(tenant, "prod.journal")
    table = container.settings.table_name("tiles")
    for item in container.dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                                         ExpressionAttributeValues={":pk": {"S": key}})["Items"]:
        container.dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    assert container.tile_store.get_many(key, edge_tiles(300)) == {}  # as before tiles existed

    run = container.checkpoint_signer.run_chain(tenant, "prod.journal")
    assert not run.errors and not run.refused
    assert set(container.tile_store.get_many(key, edge_tiles(300))) == set(edge_tiles(300))


def test_the_newest_archived_checkpoint_is_listed_from_the_proven_one_and_one_the_table_lost_is_named(cv, monkeypatch):
    """docs/scaling.md: an hourly unit listed every archived checkpoint of its chain (one S3 LIST per
    1,000 of them, ~USD 80 a day at 10,000 tenants); it lists from the checkpoint it just proved,
    and still sees an archived checkpoint newer than the checkpoints table's latest."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.services.archive import checkpoint_key

    container = cv.container()
    tenant = new_tenant()
    for round_ in range(3):
        append(container, tenant, "prod.journal", 4, start=4 * round_)
        container.checkpoints.checkpoint(tenant, "prod.journal")  # at 4, 8, 12
    cv.drain()  # the checkpoints stream archives them
    key = chain_key(tenant, "prod.journal")
    archive = container.archive
    assert archive.checkpoint_sizes(key) == [4, 8, 12]
    listed = []
    real = archive.checkpoint_sizes

    def spy(chain, *, start_after=None):
        listed.append(start_after)
        return real(chain, start_after=start_after)

    monkeypatch.setattr(archive, "checkpoint_sizes", spy)
    finding = container.full_verifier.verify(tenant, "prod.journal")
    assert finding.ok and finding.archived_checkpoint_size == 12, finding
    assert listed == [11]  # one listing, from the proven checkpoint (12) on

    # A checkpoint the archive holds but the table lost (restored from an older copy) is named.
    append(container, tenant, "prod.journal", 2, start=12)
    archive._objects.put_new(checkpoint_key(key, 14), b"archived, then lost by the table",
                             retain_until=datetime.now(UTC) + timedelta(days=1), metadata={})
    listed.clear()
    finding = container.full_verifier.verify(tenant, "prod.journal")
    assert (finding.ok, finding.reason, finding.seq, finding.archived_checkpoint_size) == (
        False, "checkpoint_rollback", 14, 14), finding
    assert listed == [11]

    # The archive's copy of the newest checkpoint not there yet: every checkpoint is listed.
    assert archive.newest_checkpoint_size(key, at_least=20) == 14


@pytest.mark.parametrize("rewrite", ["content, hash kept", "content and hash, resealed"])
def test_the_hourly_pass_names_a_rewrite_of_the_entry_it_resumes_from(cv, rewrite):
    """The incremental pass links the new entries to the entry at the checkpoint the previous pass
    proved, without re-reading the entries before it: that entry itself is checked against the
    signed checkpoint (docs/scaling.md, section 7), not left to the weekly pass."""
    from chalicelib.adapters.dynamodb_chain_store import to_item
    from chalicelib.domain.records import seal

    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, "prod.journal", 5)
    container.checkpoints.checkpoint(tenant, "prod.journal")  # at 5: what the previous hour proved
    append(container, tenant, "prod.journal", 3, start=5)
    work = container.chain_verification_work
    assert work.run(ChainUnit("verify", tenant, "prod.journal", from_seq=6)).finding.ok

    key = chain_key(tenant, "prod.journal")
    stored = container.journal_store.get(key, 5)
    forged = seal(tenant, "prod.journal", 5, stored.type, stored.recorded_at, stored.training,
                  {**stored.data, "note": "memo 5, rewritten"}, stored.prev_hash)
    item = to_item(forged)
    if rewrite == "content, hash kept":
        item["hash"] = {"S": stored.hash}  # the stated hash left as signed
    container.dynamodb.put_item(TableName=container.settings.table_name("journal"), Item=item)
    finding = work.run(ChainUnit("verify", tenant, "prod.journal", from_seq=6)).finding
    assert not finding.ok and finding.seq == 5, finding
