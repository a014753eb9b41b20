"""Operational state of continuous verification, in the ``ops`` table (decision 0008).

One item per chain (``pk = CHAIN#<chain key>``, ``sk = state``) holds what the stream verifier
last saw (``seq``, ``hash``, the stream ``stream_seq`` of the last record handled) and the archive
position (``archived_through``/``archived_hash``). The entries waiting for their segment (each
the canonical JSON of the record exactly as inserted) are items of their own,
``pk = PENDING#<chain key>``, ``sk = <seq, 20 digits>``: the state item stays a few hundred bytes
whatever the backlog (an archive outage, a chain of large entries), where one map inside it
crossed DynamoDB's 400 KB item limit at 100 entries of 40 lines and stopped the chain's stream for
good. ``chain_state`` reads them back as ``ChainState.pending``. Pending items are written before
the head moves (a crash in between leaves items past the head, ignored and written again) and
deleted after ``archived_through`` moves past them (a crash leaves items below it, ignored). The
verifier and the archiver update disjoint attributes of the state item, each conditional on its
own previous value, so they never lose each other's writes.

Alarms, anomalies and the other small records are plain items (``put_once`` / ``query``). The
in-memory twin has the same contract for unit tests.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.records import GENESIS_PREV_HASH

_ser, _de = TypeSerializer(), TypeDeserializer()
STATE_SK = "state"


@dataclass(frozen=True)
class ChainState:
    chain_key: str
    table: str = ""
    seq: int = 0  # the stream verifier's head (0: nothing seen yet)
    hash: str = GENESIS_PREV_HASH
    stream_seq: str | None = None  # stream SequenceNumber of the last record handled
    stream_arn: str | None = None  # ... on this stream (sequence numbers restart on a new stream)
    archived_through: int = 0
    archived_hash: str = GENESIS_PREV_HASH
    segments: int = 0
    pending: dict[int, str] | None = None  # None: the attribute does not exist yet
    pending_since: str | None = None  # recorded_at of the oldest pending entry
    lease_until: str | None = None
    exists: bool = False
    # Entries still in the ``pending`` map of state items written before pending items existed.
    legacy_pending: tuple[int, ...] = ()

    @property
    def pending_seqs(self) -> list[int]:
        return sorted(self.pending or {})


def state_pk(chain_key: str) -> str:
    return f"CHAIN#{chain_key}"


def pending_pk(chain_key: str) -> str:
    return f"PENDING#{chain_key}"


def pending_sk(seq: int) -> str:
    return f"{seq:020d}"


def _numbers(value: Any) -> Any:
    """DynamoDB numbers back as int (or str when fractional): no Decimal leaks out of the adapter."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_numbers(v) for v in value]
    return value


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _numbers(_de.deserialize(v)) for k, v in item.items()}


def _state_from(chain_key: str, item: dict[str, Any] | None) -> ChainState:
    if not item:
        return ChainState(chain_key)
    raw = _plain(item)
    pending = raw.get("pending")
    return ChainState(
        chain_key=chain_key,
        table=raw.get("table", ""),
        seq=int(raw.get("seq", 0)),
        hash=raw.get("hash", GENESIS_PREV_HASH),
        stream_seq=raw.get("stream_seq"),
        stream_arn=raw.get("stream_arn"),
        archived_through=int(raw.get("archived_through", 0)),
        archived_hash=raw.get("archived_hash", GENESIS_PREV_HASH),
        segments=int(raw.get("segments", 0)),
        pending=None if pending is None else {int(k): v for k, v in pending.items()},
        pending_since=raw.get("pending_since"),
        lease_until=raw.get("lease_until"),
        exists=True,
        legacy_pending=tuple(sorted(int(k) for k in pending)) if pending else (),
    )


def encode_cursor(sk: str | None) -> str | None:
    return None if sk is None else base64.urlsafe_b64encode(sk.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        decoded = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
        if not decoded or encode_cursor(decoded) != cursor:
            raise ValueError(cursor)
        return decoded
    except (ValueError, UnicodeDecodeError):
        from chalicelib.domain.errors import ValidationFailed

        raise ValidationFailed("the cursor is not one this API returned", field="cursor") from None


class DynamoDBOpsStore:
    def __init__(self, client, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"ops {operation}: condition failed") from exc
            raise Unavailable(f"ops {operation} failed: {exc.response['Error']['Code']}") from exc

    # ---- chain state -------------------------------------------------------------------------
    def chain_state(self, chain_key: str) -> ChainState:
        resp = self._call("get_item", Key=_key(state_pk(chain_key), STATE_SK), ConsistentRead=True)
        state = _state_from(chain_key, resp.get("Item"))
        if not state.exists:
            return state
        lines = {s: t for s, t in (state.pending or {}).items() if state.archived_through < s <= state.seq}
        lines.update(self._pending_lines(chain_key, state.archived_through, state.seq))
        return replace(state, pending=lines)

    def verified_head(self, chain_key: str) -> int:
        """The last seq the stream verifier has checked on this chain (0: none): one GetItem of
        one attribute, without the pending entries ``chain_state`` also reads."""
        resp = self._call("get_item", Key=_key(state_pk(chain_key), STATE_SK), ProjectionExpression="#s",
                          ExpressionAttributeNames={"#s": "seq"})
        return int(_plain(resp.get("Item") or {}).get("seq", 0))

    def _pending_lines(self, chain_key: str, after: int, through: int) -> dict[int, str]:
        """The pending items of seqs ``after+1..through`` (those past the head are not verified yet)."""
        lines: dict[int, str] = {}
        if through <= after:
            return lines
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":pk": {"S": pending_pk(chain_key)}, ":lo": {"S": pending_sk(after + 1)},
                                          ":hi": {"S": pending_sk(through)}},
            "ConsistentRead": True,
        }
        while True:
            resp = self._call("query", **kwargs)
            for item in resp.get("Items", []):
                lines[int(item["sk"]["S"])] = item["line"]["S"]
            if "LastEvaluatedKey" not in resp:
                return lines
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _write_pending(self, chain_key: str, put: dict[int, str] | None = None, delete: Iterable[int] = ()) -> None:
        requests = [{"PutRequest": {"Item": {"pk": {"S": pending_pk(chain_key)}, "sk": {"S": pending_sk(seq)},
                                             "line": {"S": text}}}} for seq, text in sorted((put or {}).items())]
        requests += [{"DeleteRequest": {"Key": _key(pending_pk(chain_key), pending_sk(seq))}} for seq in delete]
        for i in range(0, len(requests), 25):  # BatchWriteItem: 25 requests a call
            pending = {self._table: requests[i:i + 25]}
            for _ in range(20):
                try:
                    resp = self._client.batch_write_item(RequestItems=pending)
                except ClientError as exc:
                    raise Unavailable(f"ops batch_write_item failed: {exc.response['Error']['Code']}") from exc
                pending = resp.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise Unavailable("ops batch_write_item: items left unprocessed (throttled)")

    def advance_head(
        self, before: ChainState, *, table: str, seq: int, hash: str, stream_seq: str, stream_arn: str,
        add_pending: dict[int, str], now: str, move_head: bool = True,
    ) -> None:
        """Move the verifier's head and add entries to ``pending``, if nobody moved it meanwhile.
        With ``move_head=False`` only the entries are added (a large batch saved in parts: the head
        moves with the last part, so a crash in between replays the parts, never skips one)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        if move_head:
            values.update({":table": table, ":seq": seq, ":hash": hash, ":sseq": stream_seq, ":arn": stream_arn})
            sets += ["#t = :table", "seq = :seq", "#h = :hash", "stream_seq = :sseq", "stream_arn = :arn"]
            names.update({"#t": "table", "#h": "hash"})
        elif not add_pending:
            return
        conditions = []
        if before.stream_seq is None:
            conditions.append("attribute_not_exists(stream_seq)")
        else:
            conditions.append("stream_seq = :prev")
            values[":prev"] = before.stream_seq
        if add_pending:
            # Items of their own, before the head moves (module docstring): the state stays small.
            self._write_pending(before.chain_key, put=add_pending)
            sets.append("pending_since = if_not_exists(pending_since, :now)")
            values[":now"] = now
        self._call(
            "update_item",
            Key=_key(state_pk(before.chain_key), STATE_SK),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=" AND ".join(f"({c})" for c in conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={k: _ser.serialize(v) for k, v in values.items()},
        )

    def take_lease(self, chain_key: str, *, now: str, until: str) -> bool:
        try:
            self._call(
                "update_item",
                Key=_key(state_pk(chain_key), STATE_SK),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(lease_until) OR lease_until < :now)"
                ),
                ExpressionAttributeValues={":until": {"S": until}, ":now": {"S": now}},
            )
        except Conflict:
            return False
        return True

    def release_lease(self, chain_key: str) -> None:
        self._call("update_item", Key=_key(state_pk(chain_key), STATE_SK), UpdateExpression="REMOVE lease_until")

    def mark_archived(
        self, before: ChainState, *, through: int, last_hash: str, removed: Iterable[int],
        pending_since: str | None,
    ) -> None:
        """Record a written segment: advance ``archived_through`` and drop its pending entries."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":through": through, ":hash": last_hash, ":one": 1, ":zero": 0}
        sets = ["archived_through = :through", "archived_hash = :hash",
                "#segs = if_not_exists(#segs, :zero) + :one"]
        names["#segs"] = "segments"
        removed = list(removed)
        legacy = [seq for seq in removed if seq in set(before.legacy_pending)]  # an older item's map
        removes = [f"pending.#r{i}" for i, _ in enumerate(legacy)]
        names.update({f"#r{i}": str(seq) for i, seq in enumerate(legacy)})
        if pending_since is None:
            removes.append("pending_since")
        else:
            sets.append("pending_since = :since")
            values[":since"] = pending_since
        if before.archived_through == 0:
            condition = "attribute_not_exists(archived_through) OR archived_through = :prev"
        else:
            condition = "archived_through = :prev"
        values[":prev"] = before.archived_through
        kwargs: dict[str, Any] = {
            "Key": _key(state_pk(before.chain_key), STATE_SK),
            "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {k: _ser.serialize(v) for k, v in values.items()},
        }
        kwargs["ExpressionAttributeNames"] = names
        self._call("update_item", **kwargs)
        # After archived_through moved: a crash before this leaves items below it, never read.
        self._write_pending(before.chain_key, delete=[seq for seq in removed if seq not in set(legacy)])

    # ---- small records -----------------------------------------------------------------------
    def put_once(self, pk: str, sk: str, attributes: dict[str, Any], *, expires_at: int | None = None) -> bool:
        """Write the item unless (pk, sk) exists. True if written."""
        item = {"pk": pk, "sk": sk, **attributes}
        if expires_at is not None:
            item["expires_at"] = expires_at
        try:
            self._call("put_item", Item={k: _ser.serialize(v) for k, v in _dynamo_safe(item).items()},
                       ConditionExpression="attribute_not_exists(pk)")
        except Conflict:
            return False
        return True

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._call("get_item", Key=_key(pk, sk), ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def add(self, pk: str, sk: str, name: str, amount: int = 1) -> None:
        self._call("update_item", Key=_key(pk, sk), UpdateExpression="ADD #n :a",
                   ExpressionAttributeNames={"#n": name}, ExpressionAttributeValues={":a": {"N": str(amount)}})

    def increment(
        self, pk: str, sk: str, counts: dict[str, int], *, values: dict[str, Any] | None = None,
        initial: dict[str, Any] | None = None, refuse_if: str | None = None, expires_at: int | None = None,
    ) -> dict[str, Any]:
        """Add ``counts`` to the item's counters (created at 0), set ``values``, set ``initial``
        only where absent; refused (``Conflict``) when the item has attribute ``refuse_if``.
        Returns the item as it is after the update (one atomic ``UpdateItem``)."""
        names: dict[str, str] = {}
        vals: dict[str, Any] = {}
        adds, sets = [], []
        for i, (name, amount) in enumerate(counts.items()):
            names[f"#a{i}"], vals[f":a{i}"] = name, amount
            adds.append(f"#a{i} :a{i}")
        for i, (name, value) in enumerate((values or {}).items()):
            names[f"#s{i}"], vals[f":s{i}"] = name, value
            sets.append(f"#s{i} = :s{i}")
        first = dict(initial or {})
        if expires_at is not None:
            first["expires_at"] = expires_at
        for i, (name, value) in enumerate(first.items()):
            names[f"#i{i}"], vals[f":i{i}"] = name, value
            sets.append(f"#i{i} = if_not_exists(#i{i}, :i{i})")
        expression = ("ADD " + ", ".join(adds) if adds else "") + (" SET " + ", ".join(sets) if sets else "")
        kwargs: dict[str, Any] = {}
        if refuse_if is not None:
            names["#refuse"] = refuse_if
            kwargs["ConditionExpression"] = "attribute_not_exists(#refuse)"
        resp = self._call(
            "update_item", Key=_key(pk, sk), UpdateExpression=expression.strip(), ExpressionAttributeNames=names,
            ExpressionAttributeValues={k: _ser.serialize(v) for k, v in _dynamo_safe(vals).items()},
            ReturnValues="ALL_NEW", **kwargs,
        )
        return _plain(resp.get("Attributes", {}))

    def set_values(self, pk: str, sk: str, values: dict[str, Any]) -> None:
        """Set attributes of an existing item (``Conflict`` if it does not exist)."""
        names = {f"#s{i}": name for i, name in enumerate(values)}
        vals = {f":s{i}": value for i, value in enumerate(values.values())}
        expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(values)))
        self._call(
            "update_item", Key=_key(pk, sk), UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
            ExpressionAttributeValues={k: _ser.serialize(v) for k, v in _dynamo_safe(vals).items()},
        )

    def claim(self, pk: str, sk: str, *, now: str, until: str, unless: str) -> dict[str, Any] | None:
        """Close an existing item (``closed_at``, set once) and lease it until ``until``, unless it
        has attribute ``unless`` or an unexpired lease. The item after the update, or None."""
        try:
            resp = self._call(
                "update_item", Key=_key(pk, sk),
                UpdateExpression="SET closed_at = if_not_exists(closed_at, :now), lease_until = :until",
                ConditionExpression=("attribute_exists(pk) AND attribute_not_exists(#unless) AND "
                                     "(attribute_not_exists(lease_until) OR lease_until < :now)"),
                ExpressionAttributeNames={"#unless": unless},
                ExpressionAttributeValues={":now": {"S": now}, ":until": {"S": until}},
                ReturnValues="ALL_NEW",
            )
        except Conflict:
            return None
        return _plain(resp.get("Attributes", {}))

    def delete(self, pk: str, sk: str) -> None:
        self._call("delete_item", Key=_key(pk, sk))

    def query(self, pk: str, *, limit: int, after_sk: str | None = None,
              descending: bool = True) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": not descending,
            "Limit": limit,
        }
        if after_sk is not None:
            kwargs["ExclusiveStartKey"] = _key(pk, after_sk)
        resp = self._call("query", **kwargs)
        items = [_plain(i) for i in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return items, (last["sk"]["S"] if last else None)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _dynamo_safe(value: Any) -> Any:
    """Nested details as DynamoDB accepts them: no floats, no empty sets (JSON round trip)."""
    return json.loads(json.dumps(value, default=str), parse_float=str)


class InMemoryOpsStore:
    """The same contract in memory (unit tests)."""

    def __init__(self) -> None:
        self._states: dict[str, ChainState] = {}
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.fail_next: Exception | None = None

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def chain_state(self, chain_key: str) -> ChainState:
        state = self._states.get(chain_key)
        if state is None:
            return ChainState(chain_key)
        return replace(state, pending=None if state.pending is None else dict(state.pending))

    def verified_head(self, chain_key: str) -> int:
        state = self._states.get(chain_key)
        return state.seq if state is not None else 0

    def advance_head(self, before, *, table, seq, hash, stream_seq, stream_arn, add_pending, now,
                     move_head=True) -> None:
        self._maybe_fail()
        with self._lock:
            current = self._states.get(before.chain_key, ChainState(before.chain_key))
            if current.stream_seq != before.stream_seq:
                raise Conflict("ops advance_head: condition failed")
            if not move_head:
                table, seq, hash = current.table, current.seq, current.hash
                stream_seq, stream_arn = current.stream_seq, current.stream_arn
            pending = dict(current.pending or {}) if (add_pending or current.pending is not None) else None
            since = current.pending_since
            if add_pending:
                pending.update(add_pending)
                since = since or now
            self._states[before.chain_key] = replace(
                current, table=table, seq=seq, hash=hash, stream_seq=stream_seq, stream_arn=stream_arn,
                pending=pending,
                pending_since=since, exists=True,
            )

    def take_lease(self, chain_key: str, *, now: str, until: str) -> bool:
        with self._lock:
            current = self._states.get(chain_key)
            if current is None or (current.lease_until is not None and current.lease_until >= now):
                return False
            self._states[chain_key] = replace(current, lease_until=until)
            return True

    def release_lease(self, chain_key: str) -> None:
        with self._lock:
            current = self._states.get(chain_key)
            if current is not None:
                self._states[chain_key] = replace(current, lease_until=None)

    def mark_archived(self, before, *, through, last_hash, removed, pending_since) -> None:
        self._maybe_fail()
        with self._lock:
            current = self._states.get(before.chain_key, ChainState(before.chain_key))
            if current.archived_through != before.archived_through:
                raise Conflict("ops mark_archived: condition failed")
            pending = dict(current.pending or {})
            for seq in removed:
                pending.pop(seq, None)
            self._states[before.chain_key] = replace(
                current, archived_through=through, archived_hash=last_hash, segments=current.segments + 1,
                pending=pending, pending_since=pending_since, exists=True,
            )

    def put_once(self, pk, sk, attributes, *, expires_at=None) -> bool:
        self._maybe_fail()
        with self._lock:
            if (pk, sk) in self._items:
                return False
            item = {"pk": pk, "sk": sk, **_dynamo_safe(attributes)}
            if expires_at is not None:
                item["expires_at"] = expires_at
            self._items[(pk, sk)] = item
            return True

    def get(self, pk, sk):
        item = self._items.get((pk, sk))
        return dict(item) if item else None

    def add(self, pk, sk, name, amount=1) -> None:
        with self._lock:
            item = self._items.setdefault((pk, sk), {"pk": pk, "sk": sk})
            item[name] = item.get(name, 0) + amount

    def increment(self, pk, sk, counts, *, values=None, initial=None, refuse_if=None, expires_at=None):
        self._maybe_fail()
        with self._lock:
            item = self._items.get((pk, sk))
            if refuse_if is not None and item is not None and refuse_if in item:
                raise Conflict("ops update_item: condition failed")
            item = dict(item) if item is not None else {"pk": pk, "sk": sk}
            for name, amount in counts.items():
                item[name] = item.get(name, 0) + amount
            item.update(_dynamo_safe(values or {}))
            first = dict(initial or {})
            if expires_at is not None:
                first["expires_at"] = expires_at
            for name, value in _dynamo_safe(first).items():
                item.setdefault(name, value)
            self._items[(pk, sk)] = item
            return dict(item)

    def set_values(self, pk, sk, values) -> None:
        self._maybe_fail()
        with self._lock:
            if (pk, sk) not in self._items:
                raise Conflict("ops update_item: condition failed")
            self._items[(pk, sk)].update(_dynamo_safe(values))

    def claim(self, pk, sk, *, now, until, unless):
        self._maybe_fail()
        with self._lock:
            item = self._items.get((pk, sk))
            if item is None or unless in item or ("lease_until" in item and item["lease_until"] >= now):
                return None
            item.setdefault("closed_at", now)
            item["lease_until"] = until
            return dict(item)

    def delete(self, pk, sk) -> None:
        with self._lock:
            self._items.pop((pk, sk), None)

    def query(self, pk, *, limit, after_sk=None, descending=True):
        sks = sorted((sk for p, sk in self._items if p == pk), reverse=descending)
        if after_sk is not None:
            sks = [sk for sk in sks if (sk < after_sk if descending else sk > after_sk)]
        page = sks[:limit]
        last = page[-1] if len(sks) > limit else None
        return [dict(self._items[(pk, sk)]) for sk in page], last

