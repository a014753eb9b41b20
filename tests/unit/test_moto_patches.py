"""The moto patches (DynamoDB TransactWriteItems; KMS Sign/Verify limits), against a ThreadedMotoServer
running in this process."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

from chalicelib.local import moto_patches
from chalicelib.local.moto_patches import apply_moto_patches, is_patched, remove_moto_patches

PAYLOAD = "x" * 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    already_patched = is_patched()  # e.g. by a session-wide embedded stack: leave it patched
    # False after a moto upgrade: review the patch against the new source, then update its fingerprints.
    assert apply_moto_patches(), "moto_patches does not recognise the installed moto"
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        if not already_patched:
            remove_moto_patches()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def ddb(endpoint: str) -> Any:
    return _client(endpoint, "dynamodb")


def _create_table(ddb: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def _item(pk: str, sk: int, **extra: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}, "p": {"S": PAYLOAD}, **extra}


def _put(table: str, pk: str, sk: int) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": _item(pk, sk),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], int(i["sk"]["N"])))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _stream_records(endpoint: str, ddb: Any, table: str) -> list[dict[str, Any]]:
    streams = _client(endpoint, "dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records: list[dict[str, Any]] = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records.extend(page["Records"])
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def test_apply_is_idempotent(endpoint: str) -> None:
    assert apply_moto_patches()
    assert apply_moto_patches()
    assert is_patched()


def test_refuses_and_leaves_moto_alone_when_source_is_unrecognised(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    remove_moto_patches()
    try:
        original = DynamoDBBackend.__dict__["transact_write_items"]
        key = (DynamoDBBackend, "update_item")
        monkeypatch.setitem(moto_patches._EXPECTED_SOURCES, key, "0" * 16)
        with caplog.at_level(logging.WARNING, logger=moto_patches.__name__):
            assert not apply_moto_patches()
        assert "DynamoDBBackend.update_item" in caplog.text
        assert DynamoDBBackend.__dict__["transact_write_items"] is original
        assert not is_patched()
    finally:
        monkeypatch.undo()
        assert apply_moto_patches()


def test_100_item_transaction_writes_all_and_emits_one_insert_per_item(endpoint: str, ddb: Any) -> None:
    table = _create_table(ddb)
    ddb.transact_write_items(TransactItems=[_put(table, "a", i) for i in range(100)])

    assert [int(i["sk"]["N"]) for i in _scan(ddb, table)] == list(range(100))
    records = _stream_records(endpoint, ddb, table)
    assert [r["eventName"] for r in records] == ["INSERT"] * 100
    assert [int(r["dynamodb"]["Keys"]["sk"]["N"]) for r in records] == list(range(100))
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))


def test_failed_57th_item_writes_nothing_and_reports_reasons_in_item_order(endpoint: str, ddb: Any) -> None:
    table = _create_table(ddb)
    ddb.put_item(TableName=table, Item=_item("a", 56, v={"S": "before"}))

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[_put(table, "a", i) for i in range(100)])

    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    codes = [reason["Code"] for reason in error["CancellationReasons"]]
    assert codes == ["None"] * 56 + ["ConditionalCheckFailed"] + ["None"] * 43
    assert _scan(ddb, table) == [_item("a", 56, v={"S": "before"})]
    assert [r["eventName"] for r in _stream_records(endpoint, ddb, table)] == ["INSERT"]


def test_101_items_are_refused(endpoint: str, ddb: Any) -> None:
    table = _create_table(ddb)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[_put(table, "a", i) for i in range(101)])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _scan(ddb, table) == []


def test_cancelled_update_delete_and_put_are_all_undone(endpoint: str, ddb: Any) -> None:
    table = _create_table(ddb)
    ddb.put_item(TableName=table, Item=_item("a", 1, n={"N": "1"}))
    ddb.put_item(TableName=table, Item=_item("a", 2))
    ddb.put_item(TableName=table, Item=_item("a", 3))
    before_items = _scan(ddb, table)
    before_stream = _stream_records(endpoint, ddb, table)

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {  # changes the stored item in place inside moto
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}},
                _put(table, "b", 1),
                {  # creates the item
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "c"}, "sk": {"N": "1"}},
                        "UpdateExpression": "SET n = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "3"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    codes = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert codes == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert _scan(ddb, table) == before_items
    assert _stream_records(endpoint, ddb, table) == before_stream
    # The table is still usable and its stream numbering carries on from where it was.
    ddb.transact_write_items(TransactItems=[_put(table, "d", 1)])
    after = _stream_records(endpoint, ddb, table)
    assert len(after) == len(before_stream) + 1
    assert (
        int(after[-1]["dynamodb"]["SequenceNumber"])
        == int(before_stream[-1]["dynamodb"]["SequenceNumber"]) + 1
    )


def test_two_operations_on_one_item_write_nothing(endpoint: str, ddb: Any) -> None:
    table = _create_table(ddb)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[_put(table, "a", 1), _put(table, "a", 2), _put(table, "a", 1)]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _scan(ddb, table) == []
    assert _stream_records(endpoint, ddb, table) == []


def test_an_item_with_two_operations_writes_nothing(endpoint: str, ddb: Any) -> None:
    # moto 5.2.5 itself raises here without rolling back: the first item stayed written.
    table = _create_table(ddb)
    both = {
        "Put": _put(table, "a", 2)["Put"],
        "Delete": {"TableName": table, "Key": {"pk": {"S": "a"}, "sk": {"N": "3"}}},
    }
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[_put(table, "a", 1), both])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _scan(ddb, table) == []
    assert _stream_records(endpoint, ddb, table) == []


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "mixed success": [
        {"Put": {"TableName": "T", "Item": _item("n", 1)}},
        {
            "Update": {
                "TableName": "T",
                "Key": {"pk": {"S": "s"}, "sk": {"N": "1"}},
                "UpdateExpression": "SET n = n + :one, m = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": "T", "Key": {"pk": {"S": "s"}, "sk": {"N": "2"}}}},
        {
            "ConditionCheck": {
                "TableName": "T",
                "Key": {"pk": {"S": "s"}, "sk": {"N": "3"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": "T",
                "Key": {"pk": {"S": "n"}, "sk": {"N": "2"}},
                "UpdateExpression": "SET n = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ],
    "condition failure with ALL_OLD": [
        {"Put": {"TableName": "T", "Item": _item("n", 1)}},
        {
            "Put": {
                "TableName": "T",
                "Item": _item("s", 1),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {"Delete": {"TableName": "T", "Key": {"pk": {"S": "s"}, "sk": {"N": "2"}}}},
    ],
    "update of a string as a number": [
        {"Put": {"TableName": "T", "Item": _item("n", 1)}},
        {
            "Update": {
                "TableName": "T",
                "Key": {"pk": {"S": "s"}, "sk": {"N": "3"}},
                "UpdateExpression": "SET p = p + :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ],
    "unknown table in a delete": [
        {"Put": {"TableName": "T", "Item": _item("n", 1)}},
        {"Delete": {"TableName": "missing", "Key": {"pk": {"S": "s"}, "sk": {"N": "1"}}}},
    ],
    "same item twice": [
        {"Put": {"TableName": "T", "Item": _item("n", 1)}},
        {"Delete": {"TableName": "T", "Key": {"pk": {"S": "n"}, "sk": {"N": "1"}}}},
    ],
}


def _run_scenario(endpoint: str, ddb: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
    table = _create_table(ddb)
    ddb.put_item(TableName=table, Item=_item("s", 1, n={"N": "5"}))
    ddb.put_item(TableName=table, Item=_item("s", 2))
    ddb.put_item(TableName=table, Item=_item("s", 3))
    for item in items:
        op = next(iter(item.values()))
        if op["TableName"] == "T":
            op["TableName"] = table
    outcome: dict[str, Any] = {}
    try:
        ddb.transact_write_items(TransactItems=items)
    except ClientError as e:
        outcome["error"] = {k: e.response.get(k) for k in ("Error", "CancellationReasons")}
    outcome["items"] = _scan(ddb, table)
    outcome["stream"] = [
        {k: r["dynamodb"].get(k) for k in ("Keys", "NewImage", "OldImage", "SequenceNumber")}
        | {"e": r["eventName"]}
        for r in _stream_records(endpoint, ddb, table)
    ]
    return outcome


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_outcome_as_moto_itself(endpoint: str, ddb: Any, name: str) -> None:
    remove_moto_patches()
    try:
        expected = _run_scenario(endpoint, ddb, copy.deepcopy(SCENARIOS[name]))
    finally:
        assert apply_moto_patches()
    assert _run_scenario(endpoint, ddb, copy.deepcopy(SCENARIOS[name])) == expected


def test_speed_sanity_20_transactions_of_100_on_a_2000_item_table(
    endpoint: str, ddb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _create_table(ddb)
    for batch in range(20):
        ddb.transact_write_items(TransactItems=[_put(table, "seed", batch * 100 + i) for i in range(100)])

    started = time.perf_counter()
    for tx in range(20):
        ddb.transact_write_items(TransactItems=[_put(table, f"tx{tx}", i) for i in range(100)])
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n20 x 100-item TransactWriteItems on a 2,000-item table: {elapsed:.2f} s")

    assert len(_scan(ddb, table)) == 4000
    assert len(_stream_records(endpoint, ddb, table)) == 4000


def test_concurrent_conditional_puts_of_one_key_let_exactly_one_writer_win(endpoint):
    """moto's backend is not thread-safe; the patch makes each item write atomic, as on AWS."""
    import threading

    from botocore.exceptions import ClientError

    table = _create_table(_client(endpoint, "dynamodb"))
    wins: dict[int, int] = {}
    lock = threading.Lock()

    def racer(n: int) -> None:
        c = _client(endpoint, "dynamodb")
        for key in range(60):
            try:
                c.put_item(TableName=table, Item={"pk": {"S": "k"}, "sk": {"N": str(key)}, "by": {"N": str(n)}},
                           ConditionExpression="attribute_not_exists(pk)")
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
                continue
            with lock:
                wins[key] = wins.get(key, 0) + 1

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert wins == {key: 1 for key in range(60)}


def test_queries_during_concurrent_inserts_never_fail(endpoint):
    """Unpatched, a Query iterating a partition while another thread inserts can raise inside moto
    ("dictionary changed size during iteration"); patched, every request is handled atomically."""
    import threading

    ddb = _client(endpoint, "dynamodb")
    table = _create_table(ddb)
    failures: list[Exception] = []
    done = threading.Event()

    def writer() -> None:
        c = _client(endpoint, "dynamodb")
        for sk in range(400):
            c.put_item(TableName=table, Item=_item("p", sk))
        done.set()

    def reader() -> None:
        from botocore.config import Config

        c = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="t",
                         aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}))
        while not done.is_set():
            try:
                c.query(TableName=table, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "p"}})
            except Exception as exc:  # any server error is a failure of atomicity
                failures.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []


# ---- KMS Sign / Verify: AWS's message limits, DIGEST messages signed as digests -----------------
# AWS refuses a Message over 4,096 bytes, and with MessageType=DIGEST one that is not the algorithm's
# digest length (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html); moto 5.2.5
# accepts both and hashes a DIGEST message again.
_LARGE = b"x" * 5000


@pytest.fixture
def kms(endpoint: str) -> Any:
    return _client(endpoint, "kms")


@pytest.fixture
def signing_key(kms: Any) -> tuple[str, Any]:
    from cryptography.hazmat.primitives import serialization

    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    return key_id, serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


def _ecdsa_sha256_valid(public_key: Any, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def _validation_error(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value.response["Error"]["Message"]


def test_kms_patch_is_active_and_idempotent(endpoint: str) -> None:
    assert moto_patches.apply_kms_patches()
    assert moto_patches.apply_kms_patches()
    assert moto_patches.kms_is_patched()


@pytest.mark.parametrize("message_type", [{"MessageType": "RAW"}, {}], ids=["RAW", "default"])
def test_kms_sign_and_verify_refuse_a_raw_message_over_4096_bytes(kms, signing_key, message_type) -> None:
    """What the manifest signer used to send: refused on AWS, so refused by the embedded KMS too."""
    key_id, _ = signing_key
    sign = {"KeyId": key_id, "SigningAlgorithm": "ECDSA_SHA_256", **message_type}
    error = _validation_error(lambda: kms.sign(Message=b"m" * 4097, **sign))
    assert "less than or equal to 4096" in error
    signature = kms.sign(Message=b"m" * 4096, **sign)["Signature"]  # the limit itself is accepted
    assert kms.verify(Message=b"m" * 4096, Signature=signature, **sign)["SignatureValid"]
    error = _validation_error(lambda: kms.verify(Message=b"m" * 4097, Signature=signature, **sign))
    assert "less than or equal to 4096" in error


@pytest.mark.parametrize("length", [1, 31, 33, 64])
def test_kms_sign_and_verify_refuse_a_digest_that_is_not_32_bytes_for_ecdsa_sha_256(kms, signing_key, length) -> None:
    key_id, _ = signing_key
    args = {"KeyId": key_id, "SigningAlgorithm": "ECDSA_SHA_256", "MessageType": "DIGEST", "Message": b"d" * length}
    assert "Digest is invalid length for algorithm ECDSA_SHA_256" in _validation_error(lambda: kms.sign(**args))
    assert "Digest is invalid length" in _validation_error(lambda: kms.verify(Signature=b"\x30" * 70, **args))


def test_kms_signs_a_digest_as_aws_does_an_ecdsa_sha256_signature_of_the_message(kms, signing_key) -> None:
    key_id, public_key = signing_key
    digest = hashlib.sha256(_LARGE).digest()
    common = {"KeyId": key_id, "SigningAlgorithm": "ECDSA_SHA_256"}
    signature = kms.sign(Message=digest, MessageType="DIGEST", **common)["Signature"]
    assert _ecdsa_sha256_valid(public_key, _LARGE, signature)  # offline, over the whole message
    assert kms.verify(Message=digest, MessageType="DIGEST", Signature=signature, **common)["SignatureValid"]
    other = hashlib.sha256(_LARGE + b"!").digest()
    assert not kms.verify(Message=other, MessageType="DIGEST", Signature=signature, **common)["SignatureValid"]
    # a digest signature and a RAW one are interchangeable, as on AWS
    small = b"scelle-checkpoint/v1\n"
    raw = kms.sign(Message=small, MessageType="RAW", **common)["Signature"]
    assert kms.verify(Message=hashlib.sha256(small).digest(), MessageType="DIGEST", Signature=raw, **common)[
        "SignatureValid"]
    assert _ecdsa_sha256_valid(public_key, small, raw)


def test_without_the_kms_patch_moto_signs_anything_and_hashes_a_digest_again(kms, signing_key) -> None:
    """What the patch fixes (if a moto upgrade fixes it too, the fingerprints will have changed)."""
    key_id, public_key = signing_key
    common = {"KeyId": key_id, "SigningAlgorithm": "ECDSA_SHA_256"}
    moto_patches.remove_kms_patches()
    try:
        assert kms.sign(Message=_LARGE, MessageType="RAW", **common)["Signature"]
        signature = kms.sign(Message=hashlib.sha256(_LARGE).digest(), MessageType="DIGEST", **common)["Signature"]
        assert not _ecdsa_sha256_valid(public_key, _LARGE, signature)
    finally:
        assert moto_patches.apply_kms_patches()


def test_kms_patch_refuses_unrecognised_source_and_leaves_dynamodb_patched(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from moto.kms.responses import KmsResponse

    moto_patches.remove_kms_patches()
    try:
        original = KmsResponse.__dict__["sign"]
        monkeypatch.setitem(moto_patches._KMS_EXPECTED_SOURCES, (KmsResponse, "verify"), "0" * 16)
        with caplog.at_level(logging.WARNING, logger=moto_patches.__name__):
            assert not apply_moto_patches()
        assert "KmsResponse.verify" in caplog.text
        assert KmsResponse.__dict__["sign"] is original and not moto_patches.kms_is_patched()
        assert is_patched()  # the DynamoDB fix does not depend on the KMS one
    finally:
        monkeypatch.undo()
        assert apply_moto_patches()


# ---- the response serializer ---------------------------------------------------------------------------
def _every_kind(pk: str, sk: int) -> dict[str, Any]:
    """An item with every kind of AttributeValue, binaries and sets nested too."""
    return {
        "pk": {"S": pk}, "sk": {"N": str(sk)}, "empty": {"S": ""}, "text": {"S": "café ☕ \"quoted\" \\ \n"},
        "n": {"N": "-12345678901234567890.125"}, "b": {"B": b"\x00\xffbinary"}, "t": {"BOOL": True},
        "f": {"BOOL": False}, "null": {"NULL": True}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x02\x03"]},
        "m": {"M": {"inner": {"S": "x"}, "bin": {"B": b"\x10\x20"}, "deep": {"M": {"l": {"L": [
            {"N": "1"}, {"B": b"\x7f"}, {"M": {}}, {"L": []}, {"NULL": True}, {"BS": [b"z"]}]}}}}},
        "l": {"L": [{"S": "one"}, {"SS": ["x"]}, {"M": {"k": {"BOOL": False}}}]},
    }


def _raw_answers(ddb: Any, streams: Any, table: str) -> list[Any]:
    """The JSON bodies moto answers to every DynamoDB read that returns items, and to writes that
    return them (old and new images, a conditional failure's item), and a stream's records."""
    bodies: list[Any] = []

    def capture(http_response, **_):
        bodies.append(json.loads(http_response.content))

    for client in (ddb, streams):
        client.meta.events.register("after-call", capture)
    try:
        key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
        ddb.get_item(TableName=table, Key=key, ConsistentRead=True)
        ddb.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": {"S": "a"}, "sk": {"N": "2"}}]}})
        ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})
        ddb.scan(TableName=table)
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
        ddb.put_item(TableName=table, Item=_every_kind("a", 2), ReturnValues="ALL_OLD")
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET extra = :e",
                        ExpressionAttributeValues={":e": {"M": {"b": {"B": b"\x05"}}}}, ReturnValues="ALL_NEW")
        with pytest.raises(ClientError):
            ddb.put_item(TableName=table, Item=_every_kind("a", 1), ConditionExpression="attribute_not_exists(pk)",
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        streams.get_records(ShardIterator=iterator)
    finally:
        for client in (ddb, streams):
            client.meta.events.unregister("after-call", capture)
    return bodies


def _fresh_table_with_every_kind(ddb: Any) -> str:
    table = _create_table(ddb)
    ddb.put_item(TableName=table, Item=_every_kind("a", 1))
    ddb.put_item(TableName=table, Item=_every_kind("a", 2))
    return table


def test_serializer_patch_answers_exactly_what_moto_answers_for_every_kind_of_value(endpoint: str, ddb: Any) -> None:
    streams = _client(endpoint, "dynamodbstreams")
    assert moto_patches.serializer_is_patched()
    patched = _raw_answers(ddb, streams, _fresh_table_with_every_kind(ddb))
    moto_patches.remove_serializer_patch()
    try:
        assert not moto_patches.serializer_is_patched()
        generic = _raw_answers(ddb, streams, _fresh_table_with_every_kind(ddb))
    finally:
        assert moto_patches.apply_serializer_patch()

    def comparable(bodies: list[Any]) -> list[str]:
        """The 9 answers with items (not the 3 that find the stream), without what differs between
        two tables: their names, stream ids, times and moto's estimate of a record's size."""
        texts = []
        for body in bodies:
            if {"Table", "StreamDescription", "ShardIterator"} & set(body):
                continue
            text = json.dumps(body, sort_keys=True)
            for field in ("eventID", "ApproximateCreationDateTime", "SequenceNumber", "NextShardIterator",
                          "eventSourceARN", "SizeBytes"):
                text = re.sub(rf'"{field}": ("[^"]*"|[0-9.]+)', f'"{field}": "-"', text)
            texts.append(re.sub(r"t-[0-9a-f]{8}", "t-table", text))
        return texts

    assert len(comparable(patched)) == 9
    assert comparable(patched) == comparable(generic)
    assert patched[0]["Item"]["m"]["M"]["bin"] == {"B": "ECA="}  # a nested binary, base64 once


def test_serializer_patch_refuses_an_unrecognised_serializer(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from moto.core import serialize

    moto_patches.remove_serializer_patch()
    try:
        monkeypatch.setitem(moto_patches._SERIALIZER_EXPECTED_SOURCES,
                            (serialize.ResponseSerializer, "_serialize_type_blob"), "0" * 16)
        with caplog.at_level(logging.WARNING, logger=moto_patches.__name__):
            assert not moto_patches.apply_serializer_patch()
        assert "ResponseSerializer._serialize_type_blob" in caplog.text
        assert not moto_patches.serializer_is_patched()
        assert is_patched() and moto_patches.kms_is_patched()  # the other fixes stand on their own
    finally:
        monkeypatch.undo()
        assert moto_patches.apply_serializer_patch()


# ---- S3 Object Lock ------------------------------------------------------------------------------
@pytest.fixture
def locked_object(endpoint: str) -> tuple[Any, str, str, str]:
    s3 = _client(endpoint, "s3")
    bucket = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    until = "2099-01-01T00:00:00Z"
    put = s3.put_object(Bucket=bucket, Key="segment-1", Body=b"sealed", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=until)
    return s3, bucket, put["VersionId"], until


@pytest.mark.parametrize("change", [("GOVERNANCE", "2099-01-01T00:00:00Z"), ("COMPLIANCE", "2098-12-31T00:00:00Z"),
                                    ("GOVERNANCE", "2199-01-01T00:00:00Z")])
def test_a_compliance_lock_can_be_neither_weakened_nor_shortened(locked_object, change) -> None:
    """An outside trial turned an archived segment's COMPLIANCE lock into GOVERNANCE through moto,
    then deleted the version with BypassGovernanceRetention: impossible on AWS."""
    s3, bucket, version, _ = locked_object
    with pytest.raises(ClientError) as refused:
        s3.put_object_retention(Bucket=bucket, Key="segment-1", VersionId=version,
                                Retention={"Mode": change[0], "RetainUntilDate": change[1]})
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    kept = s3.head_object(Bucket=bucket, Key="segment-1", VersionId=version)
    assert kept["ObjectLockMode"] == "COMPLIANCE" and kept["ObjectLockRetainUntilDate"].year == 2099
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key="segment-1", VersionId=version, BypassGovernanceRetention=True)
    assert s3.get_object(Bucket=bucket, Key="segment-1", VersionId=version)["Body"].read() == b"sealed"


def test_a_compliance_lock_can_be_extended(locked_object) -> None:
    s3, bucket, version, _ = locked_object
    s3.put_object_retention(Bucket=bucket, Key="segment-1", VersionId=version,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": "2100-01-01T00:00:00Z"})
    kept = s3.head_object(Bucket=bucket, Key="segment-1", VersionId=version)
    assert kept["ObjectLockMode"] == "COMPLIANCE" and kept["ObjectLockRetainUntilDate"].year == 2100


def test_a_governance_lock_is_moto_s_as_before(endpoint: str) -> None:
    s3 = _client(endpoint, "s3")
    bucket = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate="2099-01-01T00:00:00Z")["VersionId"]
    s3.put_object_retention(Bucket=bucket, Key="k", VersionId=version,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": "2098-01-01T00:00:00Z"})
