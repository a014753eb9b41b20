"""The embedded emulator's redo log (chalicelib/local/redo_log.py, decision 0014).

Invariant: whatever the emulator acknowledged can be rebuilt from the last snapshot plus the log,
exactly — including a snapshot taken while writes go on — and a record torn by a crash is dropped
with what follows it in its segment, never misread.
"""

from __future__ import annotations

import logging
import threading
import uuid

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.local import snapshot
from chalicelib.local.moto_server import EmbeddedMoto
from chalicelib.local.provision import create_table, ensure_buckets
from chalicelib.local.redo_log import DurableEmulator, RedoLog
from chalicelib.resources import RESOURCES


# ---- the log itself ---------------------------------------------------------------------------
def test_records_come_back_in_order_across_segments_and_reopening(tmp_path):
    log = RedoLog(tmp_path)
    first = [log.append({"n": i}) for i in range(3)]
    boundary = log.rotate()
    log.sync(log.append({"n": 3}))
    log.close()
    again = RedoLog(tmp_path)
    assert first == [1, 2, 3] and boundary == 3
    assert [r["n"] for r in again.records()] == [0, 1, 2, 3]
    assert [r["n"] for r in again.records(after=boundary)] == [3]
    assert again.append({"n": 4}) == 5  # lsns never reused after a restart


def test_a_torn_or_corrupt_tail_is_dropped_and_nothing_after_it_is_read(tmp_path):
    log = RedoLog(tmp_path)
    for i in range(3):
        log.append({"n": i})
    log.close()
    segment = sorted(tmp_path.glob("*.log"))[0]
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + lines[1].replace(b'"n":1', b'"n":7') + lines[2])  # CRC no longer matches
    assert [r["n"] for r in RedoLog(tmp_path).records()] == [0]
    segment.write_bytes(lines[0] + lines[1][:-5])  # torn half-way by a crash
    reopened = RedoLog(tmp_path)
    assert [r["n"] for r in reopened.records()] == [0]
    reopened.sync(reopened.append({"n": 9}))
    assert [r["n"] for r in RedoLog(tmp_path).records()] == [0, 9]


def test_dropping_through_a_boundary_keeps_every_later_record(tmp_path):
    log = RedoLog(tmp_path)
    for i in range(3):
        log.append({"n": i})
    boundary = log.rotate()
    log.append({"n": 3})
    log.rotate()
    log.append({"n": 4})
    log.drop_through(boundary)
    assert [r["n"] for r in log.records()] == [3, 4]
    log.drop_through(10**6)  # never the segment being written
    log.sync(log.append({"n": 5}))
    assert [r["n"] for r in RedoLog(tmp_path).records()] == [4, 5]


def test_concurrent_appends_are_all_durable_once_their_sync_returns(tmp_path):
    log = RedoLog(tmp_path)

    def writer(w: int) -> None:
        for i in range(50):
            log.sync(log.append({"w": w, "i": i}))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # No close(): what sync() returned for is on disk, as after a kill -9.
    got = [(r["w"], r["i"]) for r in RedoLog(tmp_path).records()]
    assert sorted(got) == sorted((w, i) for w in range(4) for i in range(50))
    for w in range(4):
        assert [i for ww, i in got if ww == w] == list(range(50))


# ---- behind the emulator: restore from snapshot + log -----------------------------------------
@pytest.fixture
def durable(tmp_path):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    log = RedoLog(tmp_path / "redo")
    holder: dict = {}

    def wrap(app):
        holder["mw"] = DurableEmulator(app, log)
        return holder["mw"]

    moto = EmbeddedMoto(durable=wrap).start()
    settings = Settings(mode="local", resource_prefix=f"rl{uuid.uuid4().hex[:10]}", aws_endpoint_url=moto.endpoint,
                        region="eu-west-1")

    def client(service: str):
        return boto3.client(service, endpoint_url=moto.endpoint, region_name="eu-west-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    ddb, s3 = client("dynamodb"), client("s3")
    for table in RESOURCES.tables:
        create_table(ddb, settings.table_name(table.logical), table, with_stream=False)
    ensure_buckets(s3, settings)
    try:
        yield settings, client, log, holder["mw"], tmp_path
    finally:
        moto.stop()


def _state(settings, client) -> dict:
    ddb, s3 = client("dynamodb"), client("s3")
    state = {}
    for table in RESOURCES.tables:
        name = settings.table_name(table.logical)
        items = [i for page in ddb.get_paginator("scan").paginate(TableName=name) for i in page["Items"]]
        state[name] = sorted(items, key=lambda i: (str(i["pk"]), str(i.get("sk"))))
    bucket = settings.bucket_name("exports")
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        state[f"s3:{obj['Key']}"] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return state


def _lose_everything(settings, client, mw) -> None:
    """What a kill -9 does to moto's memory (the log is not told)."""
    mw.recording = False
    ddb, s3 = client("dynamodb"), client("s3")
    for table in RESOURCES.tables:
        ddb.delete_table(TableName=settings.table_name(table.logical))
    bucket = settings.bucket_name("exports")
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    mw.recording = True


def _writes(settings, client, n: int, tag: str) -> None:
    ddb, s3 = client("dynamodb"), client("s3")
    ops, journal = settings.table_name("ops"), settings.table_name("journal")
    for i in range(n):
        ddb.put_item(TableName=journal, Item={"pk": {"S": f"c#{tag}"}, "sk": {"N": str(i + 1)},
                                              "blob": {"B": bytes([i % 256]) * 3},
                                              "nested": {"M": {"b": {"B": b"\x00\xff"}, "l": {"L": [{"N": "1"}]}}}})
        ddb.update_item(TableName=ops, Key={"pk": {"S": "HEAD"}, "sk": {"S": tag}},
                        UpdateExpression="SET seq = :s", ExpressionAttributeValues={":s": {"N": str(i + 1)}})
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": ops, "Item": {"pk": {"S": f"CLAIM#{tag}"}, "sk": {"S": str(i)}}}},
            {"Delete": {"TableName": ops, "Key": {"pk": {"S": f"CLAIM#{tag}"}, "sk": {"S": str(i - 1)}}}},
        ])
    ddb.batch_write_item(RequestItems={ops: [{"PutRequest": {"Item": {"pk": {"S": "B"}, "sk": {"S": tag}}}}]})
    s3.put_object(Bucket=settings.bucket_name("exports"), Key=f"exports/{tag}.zip", Body=tag.encode() * 100)
    s3.put_object(Bucket=settings.bucket_name("exports"), Key=f"exports/{tag}-gone.zip", Body=b"x")
    s3.delete_object(Bucket=settings.bucket_name("exports"), Key=f"exports/{tag}-gone.zip")


def test_the_log_alone_rebuilds_every_acknowledged_item_and_object(durable):
    settings, client, log, mw, _ = durable
    _writes(settings, client, 12, "a")
    before = _state(settings, client)
    _lose_everything(settings, client, mw)
    mw.recording = False  # restore writes are history, not new changes
    counts = snapshot.restore(client, settings, None, redo=log)
    mw.recording = True
    assert counts["redo"] > 0
    assert _state(settings, client) == before


def test_a_snapshot_taken_while_writes_go_on_plus_the_log_is_exact(durable):
    settings, client, log, mw, tmp_path = durable
    _writes(settings, client, 5, "before")
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            _writes(settings, client, 2, f"during{n}")
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        with mw.writers:
            boundary = log.rotate()
        snapshot.save(client, settings, tmp_path / "snap", redo_boundary=boundary)
        log.drop_through(boundary)
    finally:
        stop.set()
        writer.join()
    _writes(settings, client, 3, "after")
    before = _state(settings, client)
    _lose_everything(settings, client, mw)
    mw.recording = False
    snapshot.restore(client, settings, tmp_path / "snap", redo=log)
    mw.recording = True
    assert _state(settings, client) == before


def test_a_refused_change_is_not_logged(durable):
    settings, client, log, _, _ = durable
    ddb = client("dynamodb")
    journal = settings.table_name("journal")
    ddb.put_item(TableName=journal, Item={"pk": {"S": "x"}, "sk": {"N": "1"}})
    logged = len(list(log.records()))
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.put_item(TableName=journal, Item={"pk": {"S": "x"}, "sk": {"N": "1"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert len(list(log.records())) == logged


def test_reads_are_not_logged(durable):
    settings, client, log, _, _ = durable
    ddb = client("dynamodb")
    logged = len(list(log.records()))
    ddb.get_item(TableName=settings.table_name("journal"), Key={"pk": {"S": "x"}, "sk": {"N": "1"}})
    ddb.query(TableName=settings.table_name("journal"), KeyConditionExpression="pk = :p",
              ExpressionAttributeValues={":p": {"S": "x"}})
    assert len(list(log.records())) == logged
