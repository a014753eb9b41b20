"""Runtime fixes for moto, applied by the embedded local stack before its moto server serves requests.

Local mode only: imports moto, which is never packaged into the Lambda.

moto 5.2.5 ``DynamoDBBackend.transact_write_items`` deep-copies every touched table once per item
in the transaction (to roll back if it is cancelled): a 100-item transaction on a 2,000-item table
takes seconds and the cost grows with the table and its (never trimmed) stream. The replacement
keeps moto's item loop as is, but records an undo entry per written item (a copy of that one item
and the stream length) and rolls back from it, so a call costs O(items in the transaction).
See docs/decisions/0002-moto-transact-write-patch.md.
"""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

import moto
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table

_log = logging.getLogger(__name__)

# sha256 (first 16 hex digits) of inspect.getsource() of the function we replace and of every moto
# function whose side effects the undo log must know (which slots a write touches, what it appends
# to the stream). Any difference means moto changed: we refuse and leave moto as it is.
# Recorded against moto 5.2.5.
_EXPECTED_SOURCES: dict[tuple[type, str], str] = {
    (DynamoDBBackend, "transact_write_items"): "81db2cb7d94e39c9",
    (DynamoDBBackend, "get_item"): "290b95c46b38bc5a",
    (DynamoDBBackend, "get_keys_value"): "1f948797496ddc2c",
    (DynamoDBBackend, "put_item"): "f5d9a5042c77b89e",
    (DynamoDBBackend, "delete_item"): "083a4bb1af18f6fd",
    (DynamoDBBackend, "update_item"): "218984588dd689a5",
    (DynamoDBBackend, "get_table"): "a738146035fc206b",
    (Table, "get_item"): "b08e98fe37b7e583",
    (Table, "put_item"): "de23933013ef8426",
    (Table, "delete_item"): "1594f7b07616c8cb",
    (StreamShard, "add"): "357dc6da267e5dd7",
}

_MAX_TRANSACTION_ITEMS = 100
_PATCH_MARK = "__scelle_moto_patch__"

_apply_lock = threading.Lock()
# Serialises transactions with each other, so that one transaction's rollback cannot undo another's
# writes (moto itself has no lock at all here).
# One re-entrant lock for every DynamoDB item write: moto's backend is not thread-safe, and the
# threaded server would otherwise let two conditional puts of one key both pass their condition
# (one silently overwriting the other) — real DynamoDB never does. The transaction code calls
# the single-item methods, hence re-entrant.
class _FairRLock:
    """A re-entrant lock granted in arrival order. Python's own locks are not fair: a thread that
    loops on requests (the stream pump, a polling client) could starve every other one."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._queue: collections.deque[object] = collections.deque()

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = object()
            self._queue.append(ticket)
            while self._owner is not None or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.popleft()
            self._owner, self._depth = me, 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


_transaction_lock = _FairRLock()
_ATOMIC_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_original_writes: dict[str, Callable[..., Any]] = {}
# Reads race too: a Query iterating a partition while another thread inserts raises "dictionary
# changed size during iteration" (a 500 that boto3 retries). Every DynamoDB and DynamoDB Streams
# request is therefore handled one at a time, as one consistent service would.
_original_dispatch: dict[type, Callable[..., Any]] = {}
_original_transact_write_items: Callable[..., None] | None = None


def source_fingerprint(func: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]


def _unrecognised() -> list[str]:
    """Names of the moto functions whose source differs from what the patch was written for."""
    mismatches = []
    for (owner, name), expected in _EXPECTED_SOURCES.items():
        func = owner.__dict__.get(name)
        try:
            found = source_fingerprint(func) if callable(func) else None
        except (OSError, TypeError):  # no source available (zipped or compiled-only install)
            found = None
        if found != expected:
            mismatches.append(f"{owner.__name__}.{name}")
    return mismatches


def is_patched() -> bool:
    return getattr(DynamoDBBackend.__dict__["transact_write_items"], _PATCH_MARK, False)


def apply_moto_patches() -> bool:
    """Install the fixes into the moto imported in this process; True when they are active.

    Idempotent. Call once before the in-process moto server (ThreadedMotoServer) handles its first
    request; it applies to existing and future DynamoDB backends alike (it patches the class). If
    moto is not the code the fix was written for, it logs a warning and changes nothing.
    """
    global _original_transact_write_items
    with _apply_lock:
        if is_patched():
            return True
        mismatches = _unrecognised()
        if mismatches:
            _log.warning(
                "moto %s: not patching DynamoDB TransactWriteItems, unrecognised source of %s; "
                "moto's slow implementation stays in place. Review the patch against this moto, "
                "then update the fingerprints in %s.",
                moto.__version__,
                ", ".join(mismatches),
                __name__,
            )
            return False
        _original_transact_write_items = DynamoDBBackend.__dict__["transact_write_items"]
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        for name in _ATOMIC_WRITES:
            _original_writes[name] = DynamoDBBackend.__dict__[name]
            setattr(DynamoDBBackend, name, _atomic(_original_writes[name]))
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            _original_dispatch[handler] = handler.call_action
            handler.call_action = _atomic(handler.call_action)  # type: ignore[method-assign]
        _log.info("moto %s: patched DynamoDB TransactWriteItems (undo log)", moto.__version__)
        return True


def remove_moto_patches() -> None:
    """Put moto's own implementation back (for tests and measurements)."""
    global _original_transact_write_items
    with _apply_lock:
        if is_patched() and _original_transact_write_items is not None:
            DynamoDBBackend.transact_write_items = _original_transact_write_items  # type: ignore[method-assign]
            _original_transact_write_items = None
            for name, original in _original_writes.items():
                setattr(DynamoDBBackend, name, original)
            _original_writes.clear()
            for handler, original in _original_dispatch.items():
                handler.call_action = original  # type: ignore[method-assign]
            _original_dispatch.clear()


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _transaction_lock:
            return method(self, *args, **kwargs)

    return locked


class _UndoLog:
    """What a transaction wrote, so that a cancelled one can be taken back without table copies."""

    def __init__(self) -> None:
        self._items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self._streams: dict[int, tuple[StreamShard, list[StreamRecord], int]] = {}

    def before_write(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
        shard = table.stream_shard
        if shard is not None and id(shard) not in self._streams:
            # Keep the list object itself: moto replaces it with [] after feeding a Lambda mapping.
            self._streams[id(shard)] = (shard, shard.items, len(shard.items))
        previous = table.get_item(hash_key, range_key)
        # A copy, because UpdateItem changes the stored Item in place.
        self._items.append((table, hash_key, range_key, copy.deepcopy(previous)))

    def rollback(self) -> None:
        for table, hash_key, range_key, previous in reversed(self._items):
            slots: dict[Any, Any] = table.items if range_key is None else table.items[hash_key]
            slot_key = hash_key if range_key is None else range_key
            if previous is None:
                slots.pop(slot_key, None)
            else:
                slots[slot_key] = previous
        for shard, records, length in self._streams.values():
            del records[length:]
            shard.items = records


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > _MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    with _transaction_lock:
        undo = _UndoLog()
        try:
            errors = _execute(self, transact_items, undo)
        except BaseException:
            undo.rollback()
            raise
        if any(code is not None for code, _, _ in errors):
            undo.rollback()
            raise TransactionCanceledException(errors)


_Errors = list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]]


def _execute(self: DynamoDBBackend, transact_items: list[dict[str, Any]], undo: _UndoLog) -> _Errors:
    """moto 5.2.5's item loop, unchanged except for the undo entry taken before each write.

    It goes on after a failed item (so that every item gets its cancellation reason, in item order)
    and re-raises validation errors; the caller rolls back in both cases.
    """
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: _Errors = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                undo.before_write(self, table_name, key)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:
            errors.append((type(e).__name__, str(e), original_item))
    return errors


setattr(_transact_write_items, _PATCH_MARK, True)
