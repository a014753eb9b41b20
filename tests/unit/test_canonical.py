"""Canonical bytes and sealed records (hash format v1)."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.util
import json
import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chalicelib.domain import canonical
from chalicelib.domain.canonical import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    CanonicalError,
    canonical_bytes,
    encode_orjson,
    encode_stdlib,
    normalise,
)
from chalicelib.domain.errors import ScelleError, ValidationFailed
from chalicelib.domain.records import (
    GENESIS_PREV_HASH,
    HASHED_FIELDS,
    RecordError,
    SealedRecord,
    chain_key,
    parse_chain_key,
    parse_timestamp,
    seal,
    utc_timestamp,
)

# -- canonical bytes -------------------------------------------------------------------------------


def test_keys_are_sorted_by_code_point_and_nothing_else_is_added():
    value = {"b": 1, "a": [True, False, None], "A": {"z": "", "y": -1}}

    assert canonical_bytes(value) == b'{"A":{"y":-1,"z":""},"a":[true,false,null],"b":1}'


def test_keys_sort_by_code_point_not_by_utf16_units_as_rfc_8785_would():
    # GIVEN U+E000 (one UTF-16 unit) and U+1F600 (a surrogate pair starting at 0xD83D)
    value = {"\U0001f600": 1, "\ue000": 2}

    # THEN the lower code point comes first, which is also UTF-8 byte order
    assert canonical_bytes(value) == '{"\ue000":2,"\U0001f600":1}'.encode()


def test_non_ascii_is_written_as_utf8_not_escaped():
    assert canonical_bytes({"label": "Crème brûlée €"}) == '{"label":"Crème brûlée €"}'.encode()


def test_control_characters_use_short_escapes_or_lowercase_u00xx():
    value = '\b\t\n\f\r\x00\x1f\x7f\u2028"\\/'

    assert canonical_bytes(value) == b'"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\xe2\x80\xa8\\"\\\\/"'


def test_a_known_value_has_a_pinned_hash():
    # printf '%s' '{"amount_cents":1250,"label":"café","ok":true}' | sha256sum
    body = canonical_bytes({"ok": True, "label": "café", "amount_cents": 1250})

    assert body == '{"amount_cents":1250,"label":"café","ok":true}'.encode()
    assert canonical.sha256_hex({"ok": True, "label": "café", "amount_cents": 1250}) == (
        "3d36f2d6abd284d3e20407d01a20c4952cf35839d9e55c4a309eac8fe11f1dec"
    )


def test_a_float_is_refused_and_named_by_its_path():
    value = {"lines": [{"qty": 1, "unit_price": 12.5}]}

    with pytest.raises(CanonicalError, match=r"float 12.5 .*lines\.0\.unit_price") as caught:
        canonical_bytes(value)

    assert caught.value.field == "lines.0.unit_price"
    assert isinstance(caught.value, ValidationFailed)
    assert isinstance(caught.value, ScelleError)


@pytest.mark.parametrize(
    "value", [1.0, float("nan"), float("inf"), -0.0], ids=["one", "nan", "inf", "minus-zero"]
)
def test_every_float_is_refused_even_integral_nan_and_infinite(value):
    with pytest.raises(CanonicalError, match="float"):
        canonical_bytes({"x": value})


def test_integers_at_the_signed_64_bit_limits_are_kept_and_beyond_them_refused():
    assert canonical_bytes([INT_MIN, INT_MAX]) == b"[-9223372036854775808,9223372036854775807]"
    for too_big in (INT_MAX + 1, INT_MIN - 1, 2**64):
        with pytest.raises(CanonicalError, match="signed 64 bits"):
            canonical_bytes({"n": too_big})


def test_a_bool_stays_a_bool_and_never_becomes_0_or_1():
    assert (
        canonical_bytes({"t": True, "f": False, "one": 1, "zero": 0})
        == b'{"f":false,"one":1,"t":true,"zero":0}'
    )


def test_a_non_string_key_is_refused_where_json_dumps_would_silently_stringify_it():
    with pytest.raises(CanonicalError, match="object key 1 is a int") as caught:
        canonical_bytes({"data": {1: "x"}})

    assert caught.value.field == "data"


class _Colour(enum.IntEnum):
    RED = 1


class _Kind(enum.StrEnum):
    SALE = "sale"


class _MyDict(dict):
    pass


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1, 2}, b"x", Decimal("1"), _Colour.RED, _Kind.SALE, _MyDict(), object(), datetime.now(UTC)],
    ids=["tuple", "set", "bytes", "decimal", "int-enum", "str-enum", "dict-subclass", "object", "datetime"],
)
def test_anything_but_exact_json_types_is_refused(value):
    with pytest.raises(CanonicalError, match="cannot seal"):
        canonical_bytes({"v": value})


@pytest.mark.parametrize("encoder", [encode_orjson, encode_stdlib], ids=["orjson", "stdlib"])
def test_an_unpaired_surrogate_is_refused_by_both_encoders_with_its_path(encoder):
    value = {"a": ["ok", "bad \ud800"]}

    with pytest.raises(CanonicalError, match="surrogate") as caught:
        encoder(value)

    assert caught.value.field == "a.1"


def test_an_unpaired_surrogate_in_a_key_is_refused():
    with pytest.raises(CanonicalError, match="surrogate"):
        canonical_bytes({"\udc00": 1})


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_allowed_up_to_max_depth_and_refused_beyond():
    assert canonical_bytes(_nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b"0" + b"]" * MAX_DEPTH

    with pytest.raises(CanonicalError, match="nesting deeper"):
        canonical_bytes(_nested(MAX_DEPTH + 1))


def test_normalise_turns_integral_decimals_into_ints_and_copies_everything():
    # GIVEN what boto3 returns for a DynamoDB item: every number is a Decimal
    stored = {"qty": Decimal("2"), "lines": [{"cents": Decimal("7.2E+2")}], "ok": True}

    plain = normalise(stored)

    assert plain == {"qty": 2, "lines": [{"cents": 720}], "ok": True}
    assert type(plain["qty"]) is int and type(plain["lines"][0]["cents"]) is int
    assert plain["lines"] is not stored["lines"]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (Decimal("12.5"), "not an integer"),
        (Decimal("NaN"), "not finite"),
        (Decimal("Infinity"), "not finite"),
        (Decimal(2**63), "signed 64 bits"),
    ],
)
def test_normalise_refuses_decimals_that_are_not_64_bit_integers(number, message):
    with pytest.raises(CanonicalError, match=message):
        normalise({"amount": number}, field="data")


# -- orjson and the standard library give the same bytes -----------------------------------------

_ALPHABET = (
    "aZ09 _-./\\\"'{}[]:,"
    + "".join(chr(code) for code in range(0x20))
    + "\x7f\x80\xa0é€\u2028\u2029\ufeff\ufffd\uffff\ue000"
    + "\U0001f600\U0001d11e\U0010ffff"
)


def _random_string(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12)))


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randint(0, 9 if depth < 5 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice(
            [0, -1, 1, INT_MAX, INT_MIN, 2**53 + 1, -(2**53) - 1, rng.randint(INT_MIN, INT_MAX)]
        )
    if kind == 3:
        return rng.randint(-1000, 1000)
    if kind in (4, 5):
        return _random_string(rng)
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {_random_string(rng): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def test_orjson_and_the_standard_library_write_identical_bytes_for_generated_values():
    rng = random.Random(20261123)
    for _ in range(4000):
        value = _random_value(rng)
        canonical.check(value)

        assert encode_orjson(value) == encode_stdlib(value), value


def test_without_orjson_the_module_falls_back_to_the_standard_library(monkeypatch):
    # GIVEN a fresh copy of the module loaded while orjson cannot be imported
    monkeypatch.setitem(sys.modules, "orjson", None)
    spec = importlib.util.spec_from_file_location("canonical_without_orjson", canonical.__file__)
    assert spec is not None and spec.loader is not None
    fallback = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fallback)

    # THEN it uses json and writes the same bytes
    value = {"z": [1, "é\n", None, {"\U0001f600": True}], "a": INT_MIN}
    assert fallback.BACKEND == "json"
    assert fallback.canonical_bytes(value) == canonical_bytes(value)
    with pytest.raises(fallback.CanonicalError):
        fallback.canonical_bytes({"x": 0.5})


# -- records ---------------------------------------------------------------------------------------

TENANT = "acme"
CHAIN = "prod.sales.R1"
WHEN = "2026-11-23T17:30:00.123456Z"


def _genesis(**overrides: object) -> SealedRecord:
    arguments: dict[str, object] = {
        "tenant_id": TENANT,
        "chain": CHAIN,
        "seq": 1,
        "type": "sale",
        "recorded_at": WHEN,
        "training": False,
        "data": {"total_gross_cents": 250, "label": "Baguette"},
        "prev_hash": GENESIS_PREV_HASH,
    }
    arguments.update(overrides)
    return seal(**arguments)  # type: ignore[arg-type]


def test_seal_hashes_the_canonical_bytes_of_every_field_but_hash():
    record = _genesis()

    fields = {name: getattr(record, name) for name in HASHED_FIELDS}
    assert record.hash == hashlib.sha256(canonical_bytes(fields)).hexdigest()
    assert record.hash == record.compute_hash() == record.recomputed_hash
    assert record.hash_version == 1 and record.intact


def test_the_canonical_bytes_of_a_record_are_exactly_as_specified():
    record = _genesis()

    assert (
        record.canonical_bytes()
        == (
            '{"chain":"prod.sales.R1","data":{"label":"Baguette","total_gross_cents":250},"hash_version":1,'
            '"prev_hash":"' + "0" * 64 + '","recorded_at":"2026-11-23T17:30:00.123456Z","seq":1,'
            '"tenant_id":"acme","training":false,"type":"sale"}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tenant_id", "acme2"),
        ("chain", "prod.sales.R2"),
        ("type", "journal"),
        ("recorded_at", "2026-11-23T17:30:00.123457Z"),
        ("training", True),
        ("data", {"total_gross_cents": 251}),
    ],
)
def test_changing_any_hashed_field_changes_the_hash(name, value):
    assert _genesis(**{name: value}).hash != _genesis().hash


def test_seq_and_prev_hash_are_hashed_too():
    first = _genesis()
    second = seal(
        TENANT, CHAIN, 2, "sale", WHEN, False, {"total_gross_cents": 250, "label": "Baguette"}, first.hash
    )
    other_link = seal(
        TENANT, CHAIN, 2, "sale", WHEN, False, {"total_gross_cents": 250, "label": "Baguette"}, "a" * 64
    )

    assert len({first.hash, second.hash, other_link.hash}) == 3


def test_the_genesis_record_must_point_to_64_zeros_and_only_it():
    with pytest.raises(RecordError, match="genesis"):
        _genesis(prev_hash="a" * 64)
    with pytest.raises(RecordError, match="not genesis"):
        _genesis(seq=2)


def test_seal_accepts_an_aware_datetime_and_stores_utc_with_microseconds():
    paris = timezone(timedelta(hours=1))
    record = _genesis(recorded_at=datetime(2026, 11, 23, 18, 30, 0, 5, tzinfo=paris))

    assert record.recorded_at == "2026-11-23T17:30:00.000005Z"


def test_a_float_in_the_payload_cannot_be_sealed():
    with pytest.raises(RecordError, match="float") as caught:
        _genesis(data={"lines": [{"amount": 2.5}]})

    assert caught.value.field == "data.lines.0.amount"


def test_seal_copies_the_payload_so_later_changes_do_not_reach_the_record():
    payload = {"lines": [{"cents": 1}]}
    record = _genesis(data=payload)

    payload["lines"][0]["cents"] = 999

    assert record.data == {"lines": [{"cents": 1}]}
    assert record.compute_hash() == record.hash


def test_a_sealed_record_is_frozen():
    record = _genesis()

    with pytest.raises(dataclasses.FrozenInstanceError):
        record.seq = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("tenant_id", "", "non-empty"),
        ("tenant_id", "a#b", "'#'"),
        ("chain", "x\ny", "control character"),
        ("seq", 0, "seq must be an integer >= 1"),
        ("seq", True, "seq must be an integer"),
        ("type", "", "type must be"),
        ("recorded_at", "2026-11-23T17:30:00Z", "recorded_at"),
        ("training", 0, "training must be true or false"),
        ("prev_hash", "A" * 64, "prev_hash must be 64 lowercase hex"),
        ("hash", "0" * 63, "hash must be 64 lowercase hex"),
        ("data", [], "data must be an object"),
    ],
)
def test_a_record_with_a_malformed_field_cannot_be_built(name, value, message):
    fields = _genesis().to_dict()
    fields[name] = value

    with pytest.raises(RecordError, match=message):
        SealedRecord(**fields)


def test_a_record_of_another_hash_version_is_refused_as_bad_version():
    fields = _genesis().to_dict()
    fields["hash_version"] = 2

    with pytest.raises(RecordError) as caught:
        SealedRecord.from_item(fields)

    assert caught.value.reason == "bad_version"


def test_from_item_accepts_dynamodb_decimals_and_the_table_keys():
    record = _genesis()
    item = {
        **record.to_dict(),
        "seq": Decimal(1),
        "hash_version": Decimal(1),
        "pk": record.chain_key,
        "sk": Decimal(1),
        "ttl": Decimal(1798000000),
    }
    item["data"] = {"total_gross_cents": Decimal(250), "label": "Baguette"}

    loaded = SealedRecord.from_item(item)

    assert loaded == record
    assert loaded.intact


def test_from_item_refuses_a_fractional_amount():
    item = _genesis().to_dict()
    item["data"] = {"total_gross_cents": Decimal("2.50")}

    with pytest.raises(RecordError, match="not an integer") as caught:
        SealedRecord.from_item(item)

    assert caught.value.reason == "non_canonical"
    assert caught.value.field == "data.total_gross_cents"


def test_from_item_refuses_an_attribute_that_is_not_sealed():
    item = {**_genesis().to_dict(), "note": "added later"}

    with pytest.raises(RecordError, match="unexpected field 'note'"):
        SealedRecord.from_item(item)


def test_from_item_refuses_a_missing_field():
    item = _genesis().to_dict()
    del item["training"]

    with pytest.raises(RecordError, match="missing field training"):
        SealedRecord.from_item(item)


def test_from_item_checks_the_partition_and_sort_keys_against_the_record():
    record = _genesis()

    with pytest.raises(RecordError) as moved:
        SealedRecord.from_item({**record.to_dict(), "pk": chain_key("other", CHAIN)})
    with pytest.raises(RecordError) as renumbered:
        SealedRecord.from_item({**record.to_dict(), "sk": Decimal(2)})

    assert moved.value.reason == "wrong_chain"
    assert renumbered.value.reason == "out_of_order"


def test_to_dict_round_trips_through_json_and_from_item():
    record = _genesis(data={"label": "Éclair", "lines": [{"cents": -5, "ok": None}]})

    assert SealedRecord.from_item(json.loads(json.dumps(record.to_dict()))) == record


def test_the_chain_key_is_tenant_then_chain_and_splits_back():
    assert chain_key("acme", "prod.sales.R1") == "TENANT#acme#CHAIN#prod.sales.R1"
    assert parse_chain_key("TENANT#acme#CHAIN#prod.sales.R1") == ("acme", "prod.sales.R1")
    with pytest.raises(RecordError):
        chain_key("ac#me", "events")
    with pytest.raises(RecordError):
        parse_chain_key("TENANT#acme#events")


def test_utc_timestamp_converts_to_utc_and_always_writes_six_fraction_digits():
    assert utc_timestamp(datetime(2026, 11, 23, 17, 30, tzinfo=UTC)) == "2026-11-23T17:30:00.000000Z"
    assert utc_timestamp(datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "0999-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_timestamp(datetime(2026, 11, 23))


def test_parse_timestamp_reads_back_what_utc_timestamp_writes():
    moment = datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)

    assert parse_timestamp(utc_timestamp(moment)) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T17:30:00Z",
        "2026-11-23T17:30:00.123Z",
        "2026-11-23T17:30:00.123456+00:00",
        "2026-11-23t17:30:00.123456z",
        "2026-02-30T17:30:00.000000Z",
        "2026-11-23 17:30:00.000000Z",
        "\uff12026-11-23T17:30:00.000000Z"  # a fullwidth digit,
        "2026-11-23T24:00:00.000000Z",
    ],
)
def test_parse_timestamp_refuses_every_other_spelling(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)
