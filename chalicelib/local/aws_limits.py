"""DynamoDB limits that moto does not enforce, enforced by the embedded stack as AWS documents them.

Local mode only: imports moto, which is never packaged into the Lambda. ``apply_aws_limits`` is
called by ``chalicelib.local.moto_patches.apply_moto_patches`` (so by ``EmbeddedMoto.start``),
before the in-process moto server serves its first request. Every figure below is AWS's, with its
page; docs/operations.md ("AWS limits enforced locally") lists them with their tests.

1 KB = 1,024 bytes and 1 MB = 1,024 KB in every DynamoDB limit
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html, note at the top).

* **Item size: 400 KB (409,600 bytes)**, "attribute name binary length (UTF-8 length) and attribute
  value lengths" (Constraints.html#limits-items), sized by the rules of
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
  (``item_size``). moto 5.2 checks 405,000 bytes of its own sizing (no list/map overheads) when a
  top-level attribute is set, so it refuses items AWS stores, accepts maps AWS refuses, never
  checks an update of a nested path, and leaves a half-applied update (and, for a new key, a
  key-only item) behind when its check fires. Here moto's check is off and the whole item is
  measured: PutItem and each BatchWriteItem put before anything is written (ValidationException
  "Item size has exceeded the maximum allowed size", the whole batch refused); UpdateItem on the
  item after the update, put back as it was when too large (ValidationException "Item size to
  update has exceeded the maximum allowed size"); TransactWriteItems: a Put before the transaction
  (ValidationException, as PutItem), an Update on its result, which cancels the transaction
  (TransactionCanceledException, reason ``ValidationError`` with the UpdateItem message), as
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
  (TransactionCanceledException: "An item size becomes too large (larger than 400 KB) ... because
  of changes made by the transaction") documents.
* **TransactWriteItems: at most 100 actions** (moto checks it; checked here first too) and **4 MB
  aggregate size of the items** (same page). AWS does not say which items of a Delete or a
  ConditionCheck count: here the items the transaction writes do (each Put's item, each Update's
  item after the update); over 4 MB the transaction is refused with a ValidationException
  ("Transaction request cannot be larger than 4 MB") and nothing is written.
* **TransactWriteItems ``ClientRequestToken``**: "valid for 10 minutes after the first request that
  uses it is completed"; a repeat with the same parameters has no further effect, one with other
  parameters gets ``IdempotentParameterMismatchException``
  (API_TransactWriteItems.html#DDB-TransactWriteItems-request-ClientRequestToken). moto ignores the
  token. Here a token is remembered once its transaction succeeded (a cancelled or refused one
  changed nothing, so its token is not taken); botocore fills a fresh token into every call and
  keeps it across its own retries, so a retry of a transaction whose answer was lost is applied
  once, as on AWS.
* **Query and Scan read at most 1 MB per call**, before any filter, and return ``LastEvaluatedKey``
  when they stop there (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html,
  Query.FilterExpression.html, API_Scan.html). moto cuts pages at 1,000,000 bytes of its own
  sizing; here at 1,048,576 bytes of ``item_size`` ("a result set that fits within the 1 MB size
  limit": the item that would cross it starts the next page). The same sizing now applies to
  moto's 16 MB BatchGetItem cut.

* **SQS** (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html,
  API_SendMessage.html, API_SendMessageBatch.html): ``MessageGroupId`` and ``MessageDeduplicationId``
  are 1 to 128 characters, alphanumeric or punctuation (``!`` to ``~``); a message body is at most
  the queue's ``MaximumMessageSize`` in UTF-8 bytes; a ``SendMessageBatch`` is at most that size in
  all, bodies plus each message attribute's name, type and value (``BatchRequestTooLong``).
  moto checks neither id, measures a body in characters rather than bytes, and measures a batch
  against 1 MiB whatever the queue's own limit. The product's queues state their size
  (``resources.Queue.max_message_bytes``, 256 KiB) rather than rely on AWS's default.

Not covered: the message attributes of a single ``SendMessage`` are not counted in its size (Scellé
sends none); PartiQL (``ExecuteStatement`` / ``ExecuteTransaction``) writes are no longer size
checked at all (Scellé does not use PartiQL); a Query on an index is cut on the size of the table
items rather than of the projected index entries; the per-clause UpdateItem accounting some
regions apply (undocumented) is not reproduced.

As ``moto_patches``: every moto function this relies on is checked against a fingerprint of its
source recorded against moto 5.2.6; if any differs, nothing is patched and a warning says so.
The write checks run inside the DynamoDB request lock that ``moto_patches`` installs, so that a
measured item cannot change before it is put back.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.local.moto_patches import UndoLog, source_fingerprint

_log = logging.getLogger(__name__)

KB = 1024
MB = 1024 * KB
MAX_ITEM_BYTES = 400 * KB  # 409,600
MAX_TRANSACTION_BYTES = 4 * MB  # 4,194,304
MAX_TRANSACTION_ACTIONS = 100
MAX_PAGE_BYTES = 1 * MB  # 1,048,576
IDEMPOTENCY_WINDOW_SECONDS = 10 * 60

ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"
UPDATE_TOO_LARGE = "Item size to update has exceeded the maximum allowed size"
TRANSACTION_TOO_LARGE = "Transaction request cannot be larger than 4 MB"
PARAMETER_MISMATCH = (
    "The ClientRequestToken was used less than 10 minutes ago by a TransactWriteItems request with "
    "different parameters"
)

_PATCH_MARK = "__scelle_aws_limit__"
_apply_lock = threading.Lock()
_originals: dict[tuple[type, str], Any] = {}
_original_page_limit: int | None = None

# Replaceable by tests: seconds, monotonic.
clock: Callable[[], float] = time.monotonic


# ---- DynamoDB item size (CapacityUnitCalculations.html) ------------------------------------------


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """(1 byte per two significant digits) + 1 byte; leading and trailing zeroes trimmed."""
    try:
        digits = "".join(map(str, Decimal(str(text)).as_tuple().digits)).strip("0")
    except (InvalidOperation, ValueError, TypeError):
        digits = str(text).strip().lstrip("+-").replace(".", "").strip("0")
    return math.ceil(max(len(digits), 1) / 2) + 1


def binary_size(value: bytes | bytearray | str) -> int:
    """The raw byte length (the wire carries base64)."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return _utf8(value)


def _type_and_content(value: Any) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ValueError(f"not a DynamoDB AttributeValue: {value!r}")
        return next(iter(value.items()))
    return value.type, value.value  # moto's DynamoType


def attribute_value_size(value: Any) -> int:
    """The size of one AttributeValue (``{"S": "..."}`` as on the wire, or moto's DynamoType),
    without its name."""
    kind, content = _type_and_content(value)
    if kind == "S":
        return _utf8(content)
    if kind == "N":
        return number_size(content)
    if kind == "B":
        return binary_size(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(v) for v in content)
    if kind == "NS":
        return sum(number_size(v) for v in content)
    if kind == "BS":
        return sum(binary_size(v) for v in content)
    if kind == "L":  # 3 bytes, plus 1 byte per element
        return 3 + sum(1 + attribute_value_size(v) for v in content)
    if kind == "M":  # 3 bytes, plus 1 byte per element, whose name counts as an attribute name
        return 3 + sum(1 + _utf8(k) + attribute_value_size(v) for k, v in content.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(attributes: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item: the UTF-8 length of each attribute name plus the size of its
    value (key attributes included)."""
    return sum(_utf8(name) + attribute_value_size(value) for name, value in attributes.items())


# ---- the patches ---------------------------------------------------------------------------------


def _moto() -> dict[str, Any]:
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb import exceptions
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import SQSBackend

    return {
        "SQSBackend": SQSBackend,
        "table_module": table_module,
        "exceptions": exceptions,
        "DynamoDBBackend": DynamoDBBackend,
        "Item": Item,
        "LimitedSizeDict": LimitedSizeDict,
        "StreamShard": StreamShard,
        "Table": Table,
        "DynamoHandler": DynamoHandler,
    }


# sha256 (first 16 hex digits) of inspect.getsource() of each moto function replaced, wrapped or
# relied upon (how it stores, mutates and streams items; how query and scan cut a page).
# Recorded against moto 5.2.6.
_EXPECTED_SOURCES: dict[tuple[str, str], str] = {
    ("DynamoHandler", "put_item"): "4c9efb73275195ec",
    ("DynamoHandler", "update_item"): "638893af1afd43d2",
    ("DynamoHandler", "batch_write_item"): "26221a09e2b2b1fd",
    ("DynamoHandler", "transact_write_items"): "61c163fff213f33a",
    ("DynamoDBBackend", "update_item"): "218984588dd689a5",
    ("DynamoDBBackend", "get_keys_value"): "1f948797496ddc2c",
    ("DynamoDBBackend", "get_table"): "a738146035fc206b",
    ("Table", "get_item"): "b08e98fe37b7e583",
    ("Table", "put_item"): "de23933013ef8426",
    ("Table", "query"): "002b4d00be6df07c",
    ("Table", "scan"): "5ef1ab21eef06a74",
    ("Item", "size"): "9bc6ada96d33365c",
    ("Item", "__init__"): "d9c12b62cb921831",
    ("LimitedSizeDict", "__setitem__"): "d979580fdbe14f79",
    ("StreamShard", "add"): "357dc6da267e5dd7",
    ("SQSBackend", "_validate_message"): "39cb57c19e596164",
    ("SQSBackend", "send_message_batch"): "0707ad219481c867",
}
_EXPECTED_PAGE_LIMIT = 1_000_000  # moto.dynamodb.models.table.RESULT_SIZE_LIMIT


def _unrecognised(sources: Mapping[tuple[str, str], str] | None = None) -> list[str]:
    classes = _moto()
    mismatches = []
    for (owner, name), expected in (_EXPECTED_SOURCES if sources is None else sources).items():
        func = classes[owner].__dict__.get(name)
        try:
            found = source_fingerprint(func) if callable(func) else None
        except (OSError, TypeError):
            found = None
        if found != expected:
            mismatches.append(f"{owner}.{name}")
    page_limit = getattr(classes["table_module"], "RESULT_SIZE_LIMIT", None)
    if page_limit not in (_EXPECTED_PAGE_LIMIT, MAX_PAGE_BYTES):
        mismatches.append(f"table.RESULT_SIZE_LIMIT={page_limit!r}")
    return mismatches


def is_applied() -> bool:
    from moto.dynamodb.responses import DynamoHandler

    return getattr(DynamoHandler.__dict__["put_item"], _PATCH_MARK, False)


def apply_aws_limits() -> bool:
    """Enforce the limits in the moto of this process (idempotent); True when they are active.

    False, with a warning and moto left as it is, when a moto function they rely on is not the
    code they were written for: review them against that moto, then update the fingerprints.
    """
    global _original_page_limit
    with _apply_lock:
        if is_applied():
            return True
        import moto

        mismatches = _unrecognised()
        if mismatches:
            _log.warning(
                "moto %s: not enforcing the AWS DynamoDB and SQS limits (item size, transaction size and "
                "token, 1 MB pages, SQS ids and message sizes), unrecognised source of %s. Review %s "
                "against this moto, then update its fingerprints.",
                moto.__version__, ", ".join(mismatches), __name__,
            )
            return False
        m = _moto()
        handler, item_cls, limited = m["DynamoHandler"], m["Item"], m["LimitedSizeDict"]
        replacements: dict[tuple[type, str], Any] = {
            (handler, "put_item"): _checked_put(handler.__dict__["put_item"]),
            (handler, "batch_write_item"): _checked_batch_write(handler.__dict__["batch_write_item"]),
            (handler, "update_item"): _checked_update(handler.__dict__["update_item"]),
            (handler, "transact_write_items"): _checked_transaction(handler.__dict__["transact_write_items"]),
            (item_cls, "size"): _sized_by_aws(item_cls.__dict__["size"]),
            (limited, "__setitem__"): _unchecked(limited.__dict__["__setitem__"]),
            (m["SQSBackend"], "_validate_message"): _checked_sqs_message(m["SQSBackend"].__dict__["_validate_message"]),
            (m["SQSBackend"], "send_message_batch"): _checked_sqs_batch(m["SQSBackend"].__dict__["send_message_batch"]),
        }
        for (owner, name), replacement in replacements.items():
            _originals[(owner, name)] = owner.__dict__[name]
            setattr(owner, name, replacement)
        _original_page_limit = m["table_module"].RESULT_SIZE_LIMIT
        m["table_module"].RESULT_SIZE_LIMIT = MAX_PAGE_BYTES
        _log.info("moto %s: enforcing the AWS DynamoDB limits (400 KB items, 4 MB / 100-action transactions, "
                  "ClientRequestToken, 1 MB pages) and SQS limits (128-character ids, message and batch sizes)",
                  moto.__version__)
        return True


def remove_aws_limits() -> None:
    """Put moto's own behaviour back (tests)."""
    global _original_page_limit
    with _apply_lock:
        for (owner, name), original in _originals.items():
            setattr(owner, name, original)
        _originals.clear()
        if _original_page_limit is not None:
            _moto()["table_module"].RESULT_SIZE_LIMIT = _original_page_limit
            _original_page_limit = None
        _tokens.clear()


def _marked(func: Callable[..., Any]) -> Callable[..., Any]:
    setattr(func, _PATCH_MARK, True)
    return func


def _sized_by_aws(original: Callable[[Any], int]) -> Callable[[Any], int]:
    """``Item.size``, which Query and Scan (and BatchGetItem) use to cut a page: DynamoDB's size."""

    @functools.wraps(original)
    def size(self: Any) -> int:
        return item_size(self.attrs)

    return _marked(size)


def _unchecked(original: Callable[..., None]) -> Callable[..., None]:
    """``LimitedSizeDict.__setitem__`` without moto's check (405,000 bytes of its own sizing, per
    top-level attribute): the whole-item checks of the requests below replace it."""

    @functools.wraps(original)
    def setitem(self: dict[str, Any], key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)

    return _marked(setitem)


def _key_of(backend: Any, table_name: str, item: Mapping[str, Any]) -> dict[str, Any]:
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _stored_size(table: Any, hash_key: Any, range_key: Any) -> int:
    stored = table.get_item(hash_key, range_key)
    return 0 if stored is None else item_size(stored.attrs)


# -- PutItem, BatchWriteItem -----------------------------------------------------------------------


def _checked_put(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def put_item(self: Any) -> Any:
        from moto.dynamodb.exceptions import ItemSizeTooLarge

        if item_size(self.body["Item"]) > MAX_ITEM_BYTES:
            raise ItemSizeTooLarge()
        return original(self)

    return _marked(put_item)


def _checked_batch_write(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def batch_write_item(self: Any) -> Any:
        from moto.dynamodb.exceptions import ItemSizeTooLarge

        for requests in (self.body.get("RequestItems") or {}).values():
            for request in requests:
                put = request.get("PutRequest")
                if put is not None and item_size(put["Item"]) > MAX_ITEM_BYTES:
                    raise ItemSizeTooLarge()  # before anything is written: the whole batch is refused
        return original(self)

    return _marked(batch_write_item)


# -- UpdateItem ------------------------------------------------------------------------------------


def _checked_update(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def update_item(self: Any) -> Any:
        from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge

        snapshot = UndoLog()
        try:
            target = snapshot.before_write(self.dynamodb_backend, self.body["TableName"], self.body["Key"])
        except Exception:  # an unknown table or a bad key: moto's own answer
            return original(self)
        try:
            result = original(self)
        except BaseException:
            # moto may leave a half-applied update, or a key-only item it created for a new key.
            snapshot.rollback()
            raise
        if _stored_size(*target) > MAX_ITEM_BYTES:
            snapshot.rollback()
            raise ItemSizeToUpdateTooLarge()
        return result

    return _marked(update_item)


# -- TransactWriteItems ------------------------------------------------------------------------------


_tokens: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()
_tokens_lock = threading.Lock()


def _parameters_digest(body: Mapping[str, Any]) -> str:
    other = {k: v for k, v in body.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(other, sort_keys=True, default=_json_default).encode()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return str(value)


def _forget_expired(now: float) -> None:
    """Drop the oldest tokens once past their window (the registry is kept in completion order)."""
    while _tokens:
        _, (_, completed) = next(iter(_tokens.items()))
        if now - completed <= IDEMPOTENCY_WINDOW_SECONDS:
            return
        _tokens.popitem(last=False)


def _idempotent_parameter_mismatch() -> Exception:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException", PARAMETER_MISMATCH)


def _checked_transaction(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(original)
    def transact_write_items(self: Any) -> Any:
        from moto.dynamodb.exceptions import (
            ItemSizeTooLarge,
            MockValidationException,
            TooManyTransactionsException,
            TransactionCanceledException,
        )
        from moto.dynamodb.responses import ActionResult

        actions = self.body.get("TransactItems") or []
        if len(actions) > MAX_TRANSACTION_ACTIONS:
            raise TooManyTransactionsException()

        token = self.body.get("ClientRequestToken")
        token_key = (str(self.current_account), str(self.region), str(token))
        digest = _parameters_digest(self.body)
        if token:
            with _tokens_lock:
                now = clock()
                _forget_expired(now)
                seen = _tokens.get(token_key)
                if seen is not None and now - seen[1] > IDEMPOTENCY_WINDOW_SECONDS:
                    del _tokens[token_key]  # older than 10 minutes: a new request
                    seen = None
            if seen is not None:
                if seen[0] != digest:
                    raise _idempotent_parameter_mismatch()
                # Already applied: success, with no further effect.
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})

        puts = [a["Put"]["Item"] for a in actions if isinstance(a.get("Put"), Mapping)]
        put_sizes = [item_size(item) for item in puts]
        if any(size > MAX_ITEM_BYTES for size in put_sizes):
            raise ItemSizeTooLarge()
        if sum(put_sizes) > MAX_TRANSACTION_BYTES:
            raise MockValidationException(TRANSACTION_TOO_LARGE)

        backend = self.dynamodb_backend
        snapshot = UndoLog()
        written: list[tuple[int, str, tuple[Any, Any, Any]]] = []
        try:
            for index, action in enumerate(actions):
                kind, op = next(iter(action.items()))
                if kind == "Put":
                    key = _key_of(backend, op["TableName"], op["Item"])
                elif kind in ("Update", "Delete"):
                    key = op["Key"]
                else:
                    continue
                target = snapshot.before_write(backend, op["TableName"], key)
                if kind != "Delete":
                    written.append((index, kind, target))
        except Exception:  # an unknown table or a bad key: moto's own answer
            return original(self)

        result = original(self)  # all or nothing: raises (having rolled back) or applies every action

        sizes = [(index, kind, _stored_size(*target)) for index, kind, target in written]
        too_large = {index for index, kind, size in sizes if kind == "Update" and size > MAX_ITEM_BYTES}
        if too_large:
            snapshot.rollback()
            raise TransactionCanceledException(
                [("ValidationError", UPDATE_TOO_LARGE, None) if i in too_large else (None, None, None)
                 for i in range(len(actions))]
            )
        if sum(size for _, _, size in sizes) > MAX_TRANSACTION_BYTES:
            snapshot.rollback()
            raise MockValidationException(TRANSACTION_TOO_LARGE)
        if token:
            with _tokens_lock:
                _tokens[token_key] = (digest, clock())
                _tokens.move_to_end(token_key)
        return result

    return _marked(transact_write_items)



# ---- SQS (quotas-messages.html, API_SendMessage.html, API_SendMessageBatch.html) -----------------

MAX_SQS_ID_CHARS = 128  # MessageGroupId, MessageDeduplicationId
_SQS_ID_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))  # "alphanumeric characters and punctuation"


def sqs_message_size(body: str, attributes: Mapping[str, Any] | None = None) -> int:
    """A message's size as SQS counts it against ``MaximumMessageSize``: the body's UTF-8 bytes
    plus, for each message attribute, its name, its data type and its value."""
    size = len(body.encode("utf-8", "surrogatepass"))
    for name, attribute in (attributes or {}).items():
        size += _utf8(name) + _utf8(str(attribute.get("data_type") or attribute.get("DataType") or ""))
        value = attribute.get("string_value") or attribute.get("StringValue")
        raw = attribute.get("binary_value") or attribute.get("BinaryValue")
        size += _utf8(value) if value is not None else binary_size(raw) if raw is not None else 0
    return size


def _sqs_id_problem(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_SQS_ID_CHARS or not set(value) <= _SQS_ID_CHARS:
        return (f"Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and "
                f"punctuation characters. 1 to {MAX_SQS_ID_CHARS} in length.")
    return None


def _checked_sqs_message(original: Callable[..., None]) -> Callable[..., None]:
    """``SQSBackend._validate_message`` (SendMessage, and each entry of SendMessageBatch before any
    is sent): the ids' length and characters, and the body's size in bytes."""

    @functools.wraps(original)
    def validate(self: Any, queue: Any, message_body: str, delay_seconds: int, deduplication_id: str | None = None,
                 group_id: str | None = None, validate_group_id: bool = True) -> None:
        from moto.sqs.exceptions import InvalidParameterValue

        for name, value in (("MessageGroupId", group_id), ("MessageDeduplicationId", deduplication_id)):
            problem = _sqs_id_problem(name, value)
            if problem:
                raise InvalidParameterValue(problem)
        limit = int(queue.maximum_message_size)
        if sqs_message_size(message_body) > limit:
            raise InvalidParameterValue(
                f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.")
        original(self, queue, message_body, delay_seconds, deduplication_id, group_id, validate_group_id)

    return _marked(validate)


def _checked_sqs_batch(original: Callable[..., Any]) -> Callable[..., Any]:
    """``SQSBackend.send_message_batch``: "the total size of all messages in the batch" at most the
    queue's ``MaximumMessageSize`` (moto: 1 MiB of characters, whatever the queue's own limit)."""

    @functools.wraps(original)
    def send_message_batch(self: Any, queue_name: str, entries: dict[str, dict[str, Any]]) -> Any:
        from moto.sqs.exceptions import SQSException

        limit = int(self.get_queue(queue_name).maximum_message_size)
        total = sum(sqs_message_size(entry.get("MessageBody") or "", entry.get("MessageAttributes"))
                    for entry in entries.values())
        if total > limit:
            raise SQSException("BatchRequestTooLong",
                               f"Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes.")
        return original(self, queue_name, entries)

    return _marked(send_message_batch)
