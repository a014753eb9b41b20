"""The DynamoDB limits the embedded stack enforces as AWS documents them (chalicelib/local/aws_limits.py):
DynamoDB's item sizing, 400 KB items, 100-action / 4 MB transactions and their ClientRequestToken,
1 MB Query and Scan pages; against an EmbeddedMoto running in this process."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.local import aws_limits
from chalicelib.local.aws_limits import (
    ITEM_TOO_LARGE,
    MAX_ITEM_BYTES,
    MAX_PAGE_BYTES,
    MAX_TRANSACTION_BYTES,
    TRANSACTION_TOO_LARGE,
    UPDATE_TOO_LARGE,
    apply_aws_limits,
    attribute_value_size,
    is_applied,
    item_size,
    remove_aws_limits,
)
from chalicelib.local.moto_server import EmbeddedMoto

# ---- DynamoDB's item size, rule by rule ----------------------------------------------------------
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html


def test_a_string_is_its_name_plus_its_utf8_bytes():
    # "(number of UTF-8-encoded bytes of attribute name) + (number of UTF-8-encoded bytes)"
    assert item_size({"name": {"S": "Dupont"}}) == 4 + 6
    assert item_size({"libellé": {"S": "café €"}}) == 8 + 9
    assert item_size({"e": {"S": ""}}) == 1


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("7", 2),  # 1 significant digit: 1 byte + 1
        ("12", 2),  # 2 digits: 1 byte + 1
        ("123", 3),  # 3 digits: 2 bytes + 1
        ("123.45", 4),  # 5 digits: 3 bytes + 1
        ("100", 2),  # "Leading and trailing zeroes are trimmed": 1 digit
        ("0.00120", 2),  # 12
        ("-0001200.500", 4),  # 12005: 5 digits
        ("0", 2),
        ("1E+2", 2),
        ("12345678901234567890123456789012345678", 20),  # 38 digits, the maximum
    ],
)
def test_a_number_is_one_byte_per_two_significant_digits_plus_one(number, size):
    # "(1 byte per two significant digits) + (1 byte)"
    assert attribute_value_size({"N": number}) == size
    assert item_size({"n": {"N": number}}) == 1 + size


def test_a_binary_is_its_raw_length_not_its_base64_length():
    raw = bytes(range(10))
    assert item_size({"b": {"B": raw}}) == 1 + 10
    assert item_size({"b": {"B": base64.b64encode(raw).decode()}}) == 1 + 10  # as on the wire


def test_a_null_or_a_boolean_is_one_byte():
    assert item_size({"ok": {"BOOL": True}, "nothing": {"NULL": True}}) == (2 + 1) + (7 + 1)


def test_a_list_or_a_map_is_three_bytes_plus_one_per_element():
    # "An attribute of type List or Map requires 3 bytes of overhead, regardless of its contents",
    # "The size of an empty List or Map is (attribute name) + (3 bytes)",
    # "Each List or Map element also requires 1 byte of overhead."
    assert item_size({"l": {"L": []}}) == 1 + 3
    assert item_size({"m": {"M": {}}}) == 1 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    # a map element is named: its name counts as an attribute name
    assert item_size({"m": {"M": {"k": {"S": "v"}, "kk": {"BOOL": False}}}}) == 1 + 3 + (1 + 1 + 1) + (1 + 2 + 1)
    nested = {"m": {"M": {"inner": {"L": [{"M": {}}]}}}}
    assert item_size(nested) == 1 + 3 + (1 + 5 + (3 + (1 + 3)))


def test_a_set_is_the_sum_of_its_elements():
    assert item_size({"ss": {"SS": ["a", "bc"]}}) == 2 + 3
    assert item_size({"ns": {"NS": ["1", "22", "123"]}}) == 2 + (2 + 2 + 3)
    assert item_size({"bs": {"BS": [b"\x00\x01", b"\x02"]}}) == 2 + 3


def test_every_attribute_counts_key_attributes_included():
    assert item_size({"pk": {"S": "a"}, "sk": {"N": "1"}, "p": {"S": "xyz"}}) == (2 + 1) + (2 + 2) + (1 + 3)


def test_the_size_of_a_moto_item_is_the_size_of_its_json():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {"pk": {"S": "a"}, "sk": {"N": "1"}, "m": {"M": {"k": {"L": [{"S": "x"}, {"NULL": True}]}}},
             "ss": {"SS": ["a", "b"]}, "b": {"B": base64.b64encode(b"123").decode()}}
    item = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
    assert item_size(item.attrs) == item_size(attrs)


# ---- the limits on the embedded stack --------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    already = is_applied()  # e.g. by a session-wide embedded stack: leave it applied
    server = EmbeddedMoto().start()  # the project's embedded stack applies the limits itself
    try:
        # False after a moto upgrade: review aws_limits against the new source, then its fingerprints.
        assert is_applied(), "EmbeddedMoto did not apply chalicelib.local.aws_limits"
        yield server.endpoint
    finally:
        server.stop()
        if not already:
            remove_aws_limits()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def ddb(moto_endpoint: str) -> Any:
    return _client(moto_endpoint, "dynamodb")


@pytest.fixture
def table(ddb: Any) -> str:
    name = f"lim-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def _key(pk: str, sk: int = 1) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def _item(pk: str, sk: int, size: int, **extra: Any) -> dict[str, Any]:
    """An item of exactly ``size`` bytes (DynamoDB's sizing), padded with attribute ``p``."""
    item = {**_key(pk, sk), **extra}
    padding = size - item_size(item) - len("p")
    assert padding >= 0
    item["p"] = {"S": "x" * padding}
    assert item_size(item) == size
    return item


def _put(table: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": item}}


def _items(ddb: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda i: (i["pk"]["S"], int(i["sk"]["N"])))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _stream_length(endpoint: str, ddb: Any, table: str) -> int:
    streams = _client(endpoint, "dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    count = 0
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        count += len(page["Records"])
        if not page["Records"]:
            return count
        iterator = page["NextShardIterator"]


def _refused(call, code: str, message: str | None = None) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if message is not None:
        assert error["Message"] == message
    return caught.value


# -- item size: PutItem, BatchWriteItem ------------------------------------------------------------


def test_put_item_stores_an_item_of_exactly_400_kb(ddb, table):
    ddb.put_item(TableName=table, Item=_item("a", 1, MAX_ITEM_BYTES))
    stored = ddb.get_item(TableName=table, Key=_key("a"), ConsistentRead=True)["Item"]
    assert item_size(stored) == MAX_ITEM_BYTES == 409_600  # moto alone refuses from 405,000


def test_put_item_refuses_one_byte_more_and_writes_nothing(moto_endpoint, ddb, table):
    _refused(lambda: ddb.put_item(TableName=table, Item=_item("a", 1, MAX_ITEM_BYTES + 1)),
             "ValidationException", ITEM_TOO_LARGE)
    assert _items(ddb, table) == []
    assert _stream_length(moto_endpoint, ddb, table) == 0


def test_put_item_counts_the_overheads_of_maps_and_lists_and_binary_as_raw_bytes(ddb, table):
    # 2,000 map elements: 2,003 bytes of overhead that moto's own sizing leaves out.
    inner = {"M": {f"k{i:04d}": {"S": "v" * 100} for i in range(2_000)}}
    blob = {"B": bytes(1_000)}
    base = _item("m", 1, MAX_ITEM_BYTES, m=inner, b=blob)
    over = {**base, "p": {"S": base["p"]["S"] + "x"}}
    _refused(lambda: ddb.put_item(TableName=table, Item=over), "ValidationException", ITEM_TOO_LARGE)
    ddb.put_item(TableName=table, Item=base)
    assert item_size(ddb.get_item(TableName=table, Key=_key("m"))["Item"]) == MAX_ITEM_BYTES


def test_batch_write_refuses_the_whole_batch_when_one_put_is_too_large(ddb, table):
    requests = [{"PutRequest": {"Item": _item("a", 1, 100)}},
                {"PutRequest": {"Item": _item("b", 1, MAX_ITEM_BYTES + 1)}}]
    _refused(lambda: ddb.batch_write_item(RequestItems={table: requests}), "ValidationException", ITEM_TOO_LARGE)
    assert _items(ddb, table) == []
    requests[1] = {"PutRequest": {"Item": _item("b", 1, MAX_ITEM_BYTES)}}
    assert ddb.batch_write_item(RequestItems={table: requests})["UnprocessedItems"] == {}
    assert [i["pk"]["S"] for i in _items(ddb, table)] == ["a", "b"]


# -- item size: UpdateItem, on the item after the update -------------------------------------------


def _update(ddb, table, pk, expression, values, names=None):
    kwargs = {"TableName": table, "Key": _key(pk), "UpdateExpression": expression,
              "ExpressionAttributeValues": values}
    if names:
        kwargs["ExpressionAttributeNames"] = names
    return ddb.update_item(**kwargs)


def test_update_item_measures_the_whole_item_after_the_update(moto_endpoint, ddb, table):
    ddb.put_item(TableName=table, Item={**_key("u"), "q": {"S": "y" * 200_000}})
    before = ddb.get_item(TableName=table, Key=_key("u"))["Item"]
    records = _stream_length(moto_endpoint, ddb, table)
    room = MAX_ITEM_BYTES - item_size(before) - len("p")

    _refused(lambda: _update(ddb, table, "u", "SET p = :p", {":p": {"S": "x" * (room + 1)}}),
             "ValidationException", UPDATE_TOO_LARGE)
    assert ddb.get_item(TableName=table, Key=_key("u"))["Item"] == before
    assert _stream_length(moto_endpoint, ddb, table) == records

    _update(ddb, table, "u", "SET p = :p", {":p": {"S": "x" * room}})
    assert item_size(ddb.get_item(TableName=table, Key=_key("u"))["Item"]) == MAX_ITEM_BYTES


def test_update_item_of_a_nested_map_path_is_measured_too(moto_endpoint, ddb, table):
    # moto alone never checks an update below the top level: this one would be stored.
    ddb.put_item(TableName=table, Item={**_key("n"), "pending": {"M": {"1": {"S": "y" * 300_000}}}})
    before = ddb.get_item(TableName=table, Key=_key("n"))["Item"]
    records = _stream_length(moto_endpoint, ddb, table)
    room = MAX_ITEM_BYTES - item_size(before) - (1 + len("2"))  # a new map element: 1 byte + its name

    _refused(lambda: _update(ddb, table, "n", "SET pending.#k = :v", {":v": {"S": "x" * (room + 1)}}, {"#k": "2"}),
             "ValidationException", UPDATE_TOO_LARGE)
    assert ddb.get_item(TableName=table, Key=_key("n"))["Item"] == before
    assert _stream_length(moto_endpoint, ddb, table) == records

    _update(ddb, table, "n", "SET pending.#k = :v", {":v": {"S": "x" * room}}, {"#k": "2"})
    assert item_size(ddb.get_item(TableName=table, Key=_key("n"))["Item"]) == MAX_ITEM_BYTES


def test_a_refused_update_of_a_new_key_leaves_no_item_behind(moto_endpoint, ddb, table):
    # moto creates a key-only item before applying the update, and kept it when its check fired.
    _refused(lambda: _update(ddb, table, "new", "SET p = :p", {":p": {"S": "x" * MAX_ITEM_BYTES}}),
             "ValidationException", UPDATE_TOO_LARGE)
    assert "Item" not in ddb.get_item(TableName=table, Key=_key("new"))
    assert _stream_length(moto_endpoint, ddb, table) == 0


# -- TransactWriteItems: actions, item size, aggregate size ------------------------------------------


def test_a_transaction_takes_100_actions_and_refuses_101(ddb, table):
    _refused(lambda: ddb.transact_write_items(TransactItems=[_put(table, _item("t", i, 50)) for i in range(101)]),
             "ValidationException")
    assert _items(ddb, table) == []
    ddb.transact_write_items(TransactItems=[_put(table, _item("t", i, 50)) for i in range(100)])
    assert len(_items(ddb, table)) == 100


def test_a_transaction_put_over_400_kb_is_refused_before_anything_is_written(ddb, table):
    actions = [_put(table, _item("a", 1, 100)), _put(table, _item("b", 1, MAX_ITEM_BYTES + 1))]
    _refused(lambda: ddb.transact_write_items(TransactItems=actions), "ValidationException", ITEM_TOO_LARGE)
    assert _items(ddb, table) == []
    actions[1] = _put(table, _item("b", 1, MAX_ITEM_BYTES))
    ddb.transact_write_items(TransactItems=actions)
    assert [item_size(i) for i in _items(ddb, table)] == [100, MAX_ITEM_BYTES]


def test_a_transaction_update_over_400_kb_cancels_the_transaction(moto_endpoint, ddb, table):
    ddb.put_item(TableName=table, Item={**_key("u"), "pending": {"M": {"1": {"S": "y" * 300_000}}}})
    before = ddb.get_item(TableName=table, Key=_key("u"))["Item"]
    records = _stream_length(moto_endpoint, ddb, table)
    room = MAX_ITEM_BYTES - item_size(before) - (1 + len("2"))

    def actions(value_bytes: int) -> list[dict[str, Any]]:
        return [_put(table, _item("a", 1, 100)),
                {"Update": {"TableName": table, "Key": _key("u"), "UpdateExpression": "SET pending.#k = :v",
                            "ExpressionAttributeNames": {"#k": "2"},
                            "ExpressionAttributeValues": {":v": {"S": "x" * value_bytes}}}}]

    error = _refused(lambda: ddb.transact_write_items(TransactItems=actions(room + 1)), "TransactionCanceledException")
    reasons = error.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ValidationError"]
    assert reasons[1]["Message"] == UPDATE_TOO_LARGE
    assert [i["pk"]["S"] for i in _items(ddb, table)] == ["u"]
    assert ddb.get_item(TableName=table, Key=_key("u"))["Item"] == before
    assert _stream_length(moto_endpoint, ddb, table) == records

    ddb.transact_write_items(TransactItems=actions(room))
    assert item_size(ddb.get_item(TableName=table, Key=_key("u"))["Item"]) == MAX_ITEM_BYTES


def _ten_full_items(table: str) -> list[dict[str, Any]]:
    return [_put(table, _item("big", i, MAX_ITEM_BYTES)) for i in range(10)]  # 4,096,000 bytes


def test_a_transaction_of_exactly_4_mb_commits_and_one_byte_more_is_refused(ddb, table):
    rest = MAX_TRANSACTION_BYTES - 10 * MAX_ITEM_BYTES  # 98,304
    _refused(lambda: ddb.transact_write_items(TransactItems=[*_ten_full_items(table),
                                                            _put(table, _item("small", 1, rest + 1))]),
             "ValidationException", TRANSACTION_TOO_LARGE)
    assert _items(ddb, table) == []
    ddb.transact_write_items(TransactItems=[*_ten_full_items(table), _put(table, _item("small", 1, rest))])
    assert sum(item_size(i) for i in _items(ddb, table)) == MAX_TRANSACTION_BYTES == 4_194_304


def test_the_4_mb_of_a_transaction_count_an_updated_item_as_it_is_after_the_update(moto_endpoint, ddb, table):
    ddb.put_item(TableName=table, Item={**_key("u"), "q": {"S": "y"}})
    before = ddb.get_item(TableName=table, Key=_key("u"))["Item"]
    records = _stream_length(moto_endpoint, ddb, table)
    rest = MAX_TRANSACTION_BYTES - 10 * MAX_ITEM_BYTES

    def actions(result_bytes: int) -> list[dict[str, Any]]:
        value = "x" * (result_bytes - item_size(before) - len("p"))
        return [*_ten_full_items(table),
                {"Update": {"TableName": table, "Key": _key("u"), "UpdateExpression": "SET p = :p",
                            "ExpressionAttributeValues": {":p": {"S": value}}}}]

    _refused(lambda: ddb.transact_write_items(TransactItems=actions(rest + 1)),
             "ValidationException", TRANSACTION_TOO_LARGE)
    assert [i["pk"]["S"] for i in _items(ddb, table)] == ["u"]
    assert ddb.get_item(TableName=table, Key=_key("u"))["Item"] == before
    assert _stream_length(moto_endpoint, ddb, table) == records

    ddb.transact_write_items(TransactItems=actions(rest))
    assert sum(item_size(i) for i in _items(ddb, table)) == MAX_TRANSACTION_BYTES


# -- TransactWriteItems: ClientRequestToken -----------------------------------------------------------


def _add(table: str, amount: int) -> list[dict[str, Any]]:
    return [{"Update": {"TableName": table, "Key": _key("counter"), "UpdateExpression": "ADD n :a",
                        "ExpressionAttributeValues": {":a": {"N": str(amount)}}}}]


def _counter(ddb, table) -> int:
    return int(ddb.get_item(TableName=table, Key=_key("counter"), ConsistentRead=True)["Item"]["n"]["N"])


def test_a_repeated_token_with_the_same_parameters_succeeds_without_applying_again(moto_endpoint, ddb, table):
    token = str(uuid.uuid4())
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)
    records = _stream_length(moto_endpoint, ddb, table)
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)  # moto alone: n == 2
    assert _counter(ddb, table) == 1
    assert _stream_length(moto_endpoint, ddb, table) == records
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=str(uuid.uuid4()))
    assert _counter(ddb, table) == 2


def test_a_repeated_token_with_other_parameters_is_an_idempotent_parameter_mismatch(ddb, table):
    token = str(uuid.uuid4())
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)
    _refused(lambda: ddb.transact_write_items(TransactItems=_add(table, 5), ClientRequestToken=token),
             "IdempotentParameterMismatchException")
    assert _counter(ddb, table) == 1


def test_a_token_is_valid_for_10_minutes_after_its_request_completed(ddb, table, monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr(aws_limits, "clock", lambda: now[0])
    token = str(uuid.uuid4())
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)
    now[0] += 600
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)
    assert _counter(ddb, table) == 1
    now[0] += 0.5  # 10 minutes and a half second after the first completed: a new request
    ddb.transact_write_items(TransactItems=_add(table, 1), ClientRequestToken=token)
    assert _counter(ddb, table) == 2


def test_botocore_resends_with_the_same_token_so_a_lost_answer_applies_once(moto_endpoint, table):
    """What a Lambda's retried TransactWriteItems does: botocore fills ClientRequestToken once per
    call and keeps it when it resends the request after a lost answer."""
    ddb = _client(moto_endpoint, "dynamodb")
    sent: list[Any] = []

    def capture(request, **_):
        sent.append(request)

    ddb.meta.events.register("before-send.dynamodb.TransactWriteItems", capture)
    ddb.transact_write_items(TransactItems=_add(table, 1))
    assert b'"ClientRequestToken"' in sent[0].body  # filled in by botocore
    resent = ddb._endpoint.http_session.send(sent[0])  # the same bytes again, as botocore's retry sends them
    assert resent.status_code == 200
    assert _counter(ddb, table) == 1


# -- Query and Scan: 1 MB pages ---------------------------------------------------------------------


ITEM = MAX_PAGE_BYTES // 10  # 104,857 bytes: ten fit in 1 MB (1,048,570), moto alone cut after nine


@pytest.fixture
def eleven_items(ddb, table) -> str:
    for sk in range(1, 12):
        ddb.put_item(TableName=table, Item=_item("q", sk, ITEM, kind={"S": "entry"}))
    return table


def test_a_query_page_stops_at_1_mb_with_a_last_evaluated_key(ddb, eleven_items):
    kwargs = {"TableName": eleven_items, "KeyConditionExpression": "pk = :pk",
              "ExpressionAttributeValues": {":pk": {"S": "q"}}}
    first = ddb.query(**kwargs)
    assert [int(i["sk"]["N"]) for i in first["Items"]] == list(range(1, 11))
    assert sum(item_size(i) for i in first["Items"]) <= MAX_PAGE_BYTES < 11 * ITEM
    assert first["LastEvaluatedKey"] == _key("q", 10)
    second = ddb.query(**kwargs, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [int(i["sk"]["N"]) for i in second["Items"]] == [11]
    assert "LastEvaluatedKey" not in second


def test_the_1_mb_is_read_before_the_filter(ddb, eleven_items):
    first = ddb.query(TableName=eleven_items, KeyConditionExpression="pk = :pk",
                      FilterExpression="kind = :none",
                      ExpressionAttributeValues={":pk": {"S": "q"}, ":none": {"S": "nothing"}})
    assert (first["Items"], first["Count"], first["ScannedCount"]) == ([], 0, 10)
    assert first["LastEvaluatedKey"] == _key("q", 10)


def test_a_scan_page_stops_at_1_mb_with_a_last_evaluated_key(ddb, eleven_items):
    first = ddb.scan(TableName=eleven_items, FilterExpression="kind = :none",
                     ExpressionAttributeValues={":none": {"S": "nothing"}})
    assert (first["Count"], first["ScannedCount"], first["LastEvaluatedKey"]) == (0, 10, _key("q", 10))
    second = ddb.scan(TableName=eleven_items, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [int(i["sk"]["N"]) for i in second["Items"]] == [11]
    assert "LastEvaluatedKey" not in second


# -- the patch itself ------------------------------------------------------------------------------


def test_apply_is_idempotent_and_the_embedded_stack_applies_it(moto_endpoint):
    from chalicelib.local.moto_patches import apply_moto_patches

    assert apply_aws_limits() and apply_aws_limits()
    remove_aws_limits()
    try:
        assert not is_applied()
        apply_moto_patches()  # what EmbeddedMoto.start calls
        assert is_applied()
    finally:
        apply_aws_limits()


def test_refuses_and_leaves_moto_alone_when_its_source_is_unrecognised(moto_endpoint, monkeypatch, caplog):
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.dynamodb.responses import DynamoHandler

    remove_aws_limits()
    try:
        originals = (DynamoHandler.__dict__["put_item"], LimitedSizeDict.__dict__["__setitem__"])
        monkeypatch.setitem(aws_limits._EXPECTED_SOURCES, ("Table", "query"), "0" * 16)
        with caplog.at_level(logging.WARNING, logger=aws_limits.__name__):
            assert not apply_aws_limits()
        assert "Table.query" in caplog.text
        assert not is_applied()
        assert (DynamoHandler.__dict__["put_item"], LimitedSizeDict.__dict__["__setitem__"]) == originals
        assert table_module.RESULT_SIZE_LIMIT == 1_000_000
    finally:
        monkeypatch.undo()
        assert apply_aws_limits()


# ---- SQS: ids and message sizes (quotas-messages.html, API_SendMessageBatch.html) ------------------


@pytest.fixture
def fifo(moto_endpoint: str) -> tuple[Any, str]:
    sqs = _client(moto_endpoint, "sqs")
    url = sqs.create_queue(QueueName=f"lim-{uuid.uuid4().hex[:8]}.fifo", Attributes={
        "FifoQueue": "true", "MaximumMessageSize": "262144"})["QueueUrl"]
    return sqs, url


def _sqs_error(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return refused.value.response["Error"]["Code"]


def test_a_message_group_or_deduplication_id_is_at_most_128_printable_characters(fifo):
    sqs, url = fifo
    send = {"QueueUrl": url, "MessageBody": "{}"}
    sqs.send_message(**send, MessageGroupId="g" * 128, MessageDeduplicationId="d" * 128)
    sqs.send_message(**send, MessageGroupId="!~#:/", MessageDeduplicationId="a.b-c_d")
    for group, dedup in (("g" * 129, "d"), ("g", "d" * 129), ("a b", "d"), ("g", "é"), ("g", "")):
        code = _sqs_error(sqs.send_message, **send, MessageGroupId=group, MessageDeduplicationId=dedup)
        assert code in ("InvalidParameterValue", "InvalidParameterValueException"), (group, dedup, code)
    assert int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"]) == 2  # nothing refused was queued


def test_a_message_is_measured_in_utf8_bytes_against_the_queue_limit(fifo):
    sqs, url = fifo
    ids = {"MessageGroupId": "g", "MessageDeduplicationId": uuid.uuid4().hex}
    sqs.send_message(QueueUrl=url, MessageBody="x" * 262_144, **ids)
    # 131,073 characters of 2 bytes: under the limit in characters (moto's measure), over it in bytes
    code = _sqs_error(sqs.send_message, QueueUrl=url, MessageBody="é" * 131_073,
                      MessageGroupId="g", MessageDeduplicationId=uuid.uuid4().hex)
    assert code in ("InvalidParameterValue", "InvalidParameterValueException")


def test_a_batch_is_at_most_the_queue_limit_in_all(fifo):
    sqs, url = fifo

    def entries(size: int, count: int) -> list[dict[str, str]]:
        return [{"Id": str(n), "MessageBody": "x" * size, "MessageGroupId": "g",
                 "MessageDeduplicationId": uuid.uuid4().hex} for n in range(count)]

    assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries(26_214, 10))["Successful"]) == 10
    # ten messages of 30 KB: each under 256 KiB, 300 KB in all (moto alone allows 1 MiB)
    assert _sqs_error(sqs.send_message_batch, QueueUrl=url, Entries=entries(30_000, 10)) in (
        "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong")
