"""The stream verifier: every change to the journal, events and checkpoints tables, as it happens.

For each INSERT of a chain entry it checks the record (well-formed, hash recomputes) and its link
to the chain's previous entry, using the head it keeps per chain in the ops table, and hands the
record, exactly as inserted, to the archive (``pending``). Any MODIFY or REMOVE of a sealed entry
or of a signed checkpoint is a tamper alarm, except the TTL expiry of an event-journal item once
archived (decision 0006). Each alarm names the chain and the seq.

Processing is idempotent and resumable: the head item records the stream sequence number of the
last record handled, so a redelivered record is recognised and skipped, and the head only moves
by a conditional write. Records of a batch are handled in order; after the first failure the
rest of the batch is reported failed too without being touched, so one chain's records never
overtake each other (Lambda and the local pump retry from the first failed record).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.domain.checkpoint import Checkpoint, CheckpointError
from chalicelib.domain.errors import ScelleError
from chalicelib.domain.records import (
    GENESIS_PREV_HASH,
    RecordError,
    SealedRecord,
    parse_chain_key,
    utc_timestamp,
)
from chalicelib.domain.write_proofs import proof_finding
from chalicelib.observability import logger
from chalicelib.ports.write_proofs import WriteProofs
from chalicelib.services.archive import record_line
from chalicelib.services.events import PLATFORM_TENANT
from chalicelib.services.tamper_alarms import TamperAlarm

TTL_SERVICE = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_de = TypeDeserializer()


class SkippedAfterFailure(ScelleError):
    """Not processed: an earlier record of the batch failed, and order must be kept."""

    code = "skipped-after-failure"


# ---- stream records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamChange:
    event: str  # INSERT | MODIFY | REMOVE
    table: str  # logical table: journal | events | checkpoints
    pk: str
    sk: Any
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    sequence_number: str
    source_arn: str
    created_at: datetime | None
    by_ttl_service: bool  # AWS: the deletion was made by DynamoDB's TTL process

    @property
    def seq(self) -> int | None:
        try:
            return int(self.sk)
        except (TypeError, ValueError):
            return None

    def chain(self) -> tuple[str, str]:
        """(tenant_id, chain) of the pk, or the platform tenant and the raw pk if it is malformed."""
        try:
            return parse_chain_key(self.pk)
        except RecordError:
            return PLATFORM_TENANT, str(self.pk)[:200]


def _image(value: dict | None) -> dict[str, Any] | None:
    """A stream image as a record dict, decoded like any stored item (decision 0003)."""
    if value is None:
        return None
    from chalicelib.ports.journal_items import decode_item

    return decode_item(value)


def _keys(value: dict | None) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in (value or {}).items()}


def parse_stream_record(raw: dict[str, Any], table: str) -> StreamChange:
    """A Lambda DynamoDB stream record (as Lambda or the local pump delivers it) as a change."""
    ddb = raw.get("dynamodb") or {}
    keys = _keys(ddb.get("Keys"))
    created = ddb.get("ApproximateCreationDateTime")
    identity = raw.get("userIdentity") or {}
    return StreamChange(
        event=raw.get("eventName", ""),
        table=table,
        pk=keys.get("pk", ""),
        sk=keys.get("sk"),
        new=_image(ddb.get("NewImage")),
        old=_image(ddb.get("OldImage")),
        sequence_number=str(ddb.get("SequenceNumber", "")),
        source_arn=str(raw.get("eventSourceARN", "")),
        created_at=datetime.fromtimestamp(float(created), UTC) if created is not None else None,
        by_ttl_service=identity.get("type") == TTL_SERVICE["type"]
        and identity.get("principalId") == TTL_SERVICE["principalId"],
    )


def _newer(change: StreamChange, state) -> bool:
    """True unless ``change`` was handled before: same stream, sequence number not past the head's."""
    sequence_number, than = change.sequence_number, state.stream_seq
    if than is None or change.source_arn != (state.stream_arn or ""):
        return True
    try:
        return int(sequence_number) > int(than)
    except ValueError:
        return sequence_number > than


def _changed_fields(old: dict | None, new: dict | None) -> list[str]:
    old, new = old or {}, new or {}
    names = sorted(set(old) | set(new))
    changed = [n for n in names if old.get(n) != new.get(n)]
    if "data" in changed and isinstance(old.get("data"), dict) and isinstance(new.get("data"), dict):
        inner = sorted(k for k in set(old["data"]) | set(new["data"]) if old["data"].get(k) != new["data"].get(k))
        changed = [c for c in changed if c != "data"] + [f"data.{k}" for k in inner]
    return changed


# ---- chain entries (journal and events tables) -------------------------------------------------


class ExpiryPolicy:
    """Tells an expected TTL expiry of an event-journal item from a deletion (decision 0006).

    On AWS the stream record's user identity is DynamoDB's TTL service. In local mode moto never
    expires items and sets no identity: the local sweeper writes a sweep ticket in the ops table
    before it deletes an expired, archived item, and only such a ticket is accepted — and only
    when ``honour_local_tickets`` (local mode). Either way the old image's ``ttl`` must be past.
    """

    def __init__(self, ops, *, honour_local_tickets: bool, clock: Callable[[], datetime]) -> None:
        self._ops = ops
        self._local = honour_local_tickets
        self._clock = clock

    def is_expiry(self, change: StreamChange) -> tuple[bool, str]:
        ttl = (change.old or {}).get("ttl")
        if ttl is None:
            return False, "the item has no ttl attribute"
        if int(ttl) > self._clock().timestamp():
            return False, f"its ttl {int(ttl)} is still in the future"
        if change.by_ttl_service:
            return True, "deleted by DynamoDB's TTL process"
        if self._local and self._ops.get(sweep_ticket_pk(change.pk), sweep_ticket_sk(change.seq)) is not None:
            return True, "deleted by the local TTL sweeper"
        return False, "deleted by someone other than the TTL process"


def sweep_ticket_pk(chain_key: str) -> str:
    return f"SWEEP#{chain_key}"


def sweep_ticket_sk(seq: int | None) -> str:
    return f"{seq or 0:012d}"


class ChainStreamVerifier:
    """Handles the stream of one chain table (``journal`` or ``events``)."""

    def __init__(
        self,
        table: str,
        *,
        ops,
        store,
        alarms,
        archiver,
        directory=None,
        expiry: ExpiryPolicy | None = None,
        after_insert: Callable[[SealedRecord], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        catch_up_limit: int = 10_000,
        commit_chunk: int = 50,
        deriver=None,
        proofs: WriteProofs | None = None,
    ) -> None:
        self.table = table
        # Every inserted entry must carry a valid write proof (decision 0022): a correctly hashed
        # and linked entry appended straight to the table is caught here, within seconds.
        self._proofs = proofs
        self._ops = ops
        self._store = store
        self._alarms = alarms
        self._archiver = archiver
        self._directory = directory
        self._expiry = expiry
        self._after_insert = after_insert
        self._clock = clock
        self._catch_up_limit = catch_up_limit
        self._states: dict[str, Any] = {}
        self._staged: dict[str, dict[str, Any]] = {}
        self._commit_chunk = commit_chunk
        # Journal stream only: the event of each inserted entry (services/events.py EventDeriver).
        self._deriver = deriver
        self._to_derive: list[SealedRecord] = []

    @property
    def source(self) -> str:
        return f"stream:{self.table}"

    def begin_batch(self) -> None:
        self._states.clear()
        self._staged.clear()
        self._to_derive.clear()

    def commit(self) -> set[str]:
        """Persist what the batch staged, one conditional write per chain (split when large).
        Returns the chain keys whose write failed: their records must be retried."""
        failed: set[str] = set()
        for key in list(self._staged):
            try:
                self._commit(key)
            except Exception:
                logger.exception("stream verifier state not saved; the chain's records will be retried",
                                 extra={"chain": key})
                failed.add(key)
                self._staged.pop(key, None)
                self._states.pop(key, None)
        if self._deriver is not None and self._to_derive:
            # Redelivered records are derived too (the cursor skips what is done): a batch that
            # failed here after the verifier saved its state still gets its events on retry.
            failed |= self._deriver.derive(r for r in self._to_derive if r.chain_key not in failed)
            self._to_derive.clear()
        return failed

    def _commit(self, key: str) -> None:
        staged = self._staged.pop(key, None)
        if staged is None:
            return
        before, last = staged["before"], self._states[key]
        adds = sorted(staged["add"].items())
        chunks = [adds[i:i + self._commit_chunk] for i in range(0, len(adds), self._commit_chunk)] or [[]]
        for i, chunk in enumerate(chunks):
            add = dict(chunk)
            final = i == len(chunks) - 1  # the head moves with the last part only
            since = json.loads(add[min(add)])["recorded_at"] if add else utc_timestamp(self._clock())
            self._ops.advance_head(before, table=self.table, seq=last.seq, hash=last.hash,
                                   stream_seq=last.stream_seq, stream_arn=last.stream_arn or "",
                                   add_pending=add, now=since, move_head=final)
            before = replace(before, pending=(before.pending or {}) | add if (add or before.pending is not None)
                             else None)
        self._states[key] = replace(last, exists=True)

    def end_batch(self) -> None:
        """Write the segments that filled up during the batch (failures wait for the next try)."""
        for key, state in list(self._states.items()):
            waiting = [s for s in state.pending_seqs if s > state.archived_through]
            if len(waiting) >= self._archiver.segment_entries:
                try:
                    self._archiver.flush(key)
                except Exception:
                    logger.exception("archive flush failed; the entries stay pending", extra={"chain": key})
        self._states.clear()

    def _state(self, key: str):
        if key not in self._states:
            self._states[key] = self._ops.chain_state(key)
        return self._states[key]

    def _alarm(self, change: StreamChange, seq: int | None, reason: str, detail: str) -> None:
        tenant_id, chain = change.chain()
        self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, seq, reason, detail, self.source,
                                             evidence=f"{change.event}@{change.sequence_number}@{change.source_arn}"))

    def _advance(self, change: StreamChange, state, *, seq: int, hash: str, add: dict[int, str]) -> None:
        """Stage the new head (and the entries for the archive); ``commit`` writes it."""
        staged = self._staged.setdefault(change.pk, {"before": state, "add": {}})
        staged["add"].update(add)
        pending = None if (state.pending is None and not add) else {**(state.pending or {}), **add}
        since = state.pending_since
        if add and not since:
            since = json.loads(add[min(add)])["recorded_at"]
        self._states[change.pk] = replace(
            state, table=self.table, seq=seq, hash=hash, stream_seq=change.sequence_number,
            stream_arn=change.source_arn, pending=pending, pending_since=since, exists=True,
        )
        if len(staged["add"]) >= self._commit_chunk * 2:
            self._commit(change.pk)  # a large batch of one chain: save progress, keep the item small

    # -- dispatch --------------------------------------------------------------------------------
    def handle(self, change: StreamChange) -> None:
        if self._deriver is not None and change.event == "INSERT":
            try:
                self._to_derive.append(SealedRecord.from_item(change.new or {}))
            except RecordError:
                pass  # not a record: the verifier below raises the alarm
        state = self._state(change.pk)
        if not _newer(change, state):
            return  # redelivered: handled before
        if change.event == "INSERT":
            self._insert(change, state)
        elif change.event == "MODIFY":
            self._modify(change, state)
        elif change.event == "REMOVE":
            self._remove(change, state)
        else:
            raise ValueError(f"unknown stream event {change.event!r}")

    # -- INSERT ----------------------------------------------------------------------------------
    def _insert(self, change: StreamChange, state) -> None:
        try:
            record = SealedRecord.from_item(change.new or {})
        except RecordError as exc:
            self._alarm(change, change.seq, exc.reason, f"an inserted item is not a sealed record: {exc.detail}")
            self._advance(change, state, seq=state.seq, hash=state.hash, add={})
            return
        if not state.exists and self._directory is not None:
            self._directory.register(record.tenant_id, record.chain)
        problems: list[tuple[int, str, str]] = []
        if not record.intact:
            problems.append((record.seq, "hash_mismatch",
                             f"seq {record.seq}: stored hash {record.hash} but the content hashes to "
                             f"{record.recomputed_hash}"))
        add: dict[int, str] = {}
        if record.seq <= state.seq:
            problems.append((record.seq, "reinserted",
                             f"seq {record.seq} was inserted again after the chain had reached seq {state.seq}: "
                             "an entry was deleted and written anew"))
        else:
            last_seq, last_hash = state.seq, state.hash
            if record.seq > state.seq + 1:
                last_seq, last_hash, caught, problem = self._catch_up(change, state, record)
                add.update(caught)
                if problem:
                    problems.append(problem)
            if not problems or problems[-1][1] == "hash_mismatch":
                link_problem = self._check_link(record, last_seq, last_hash)
                if link_problem:
                    problems.append(link_problem)
            proof_problem = self._proof_problem(record)
            if proof_problem:
                problems.append(proof_problem)
            add[record.seq] = record_line(record)
        for seq, reason, detail in problems:
            self._alarm(change, seq, reason, detail)
        if not problems and self._after_insert is not None:
            self._after_insert(record)
        self._advance(change, state, seq=record.seq, hash=record.hash, add=add)

    def _proof_problem(self, record: SealedRecord) -> tuple[int, str, str] | None:
        if self._proofs is None:
            return None
        finding = proof_finding(record.seq, record.hash, record.write_proof, self._proofs.problem)
        return (record.seq, *finding) if finding else None

    def _check_link(self, record: SealedRecord, last_seq: int, last_hash: str):
        if record.seq == 1:
            if record.prev_hash != GENESIS_PREV_HASH:
                return 1, "bad_genesis", f"seq 1: prev_hash must be 64 zeros, found {record.prev_hash}"
            return None
        if last_seq != record.seq - 1:
            return None  # the previous entry is gone (expired event): nothing to link to
        if record.prev_hash != last_hash:
            return (record.seq, "broken_link",
                    f"seq {record.seq}: prev_hash {record.prev_hash} is not the hash {last_hash} of seq {last_seq} "
                    "as the stream verifier saw it")
        return None

    def _catch_up(self, change: StreamChange, state, record: SealedRecord):
        """Entries the stream did not deliver (a verifier started late, a dead-lettered record):
        read them from the table, check their links, and archive them. A missing one is a gap."""
        first, last = state.seq + 1, record.seq - 1
        if last - first + 1 > self._catch_up_limit:
            first = last - self._catch_up_limit + 1
        caught: dict[int, str] = {}
        expected, prev_seq, prev_hash = first, state.seq, state.hash
        for item in self._store.raw_items(change.pk, first, last):
            try:
                older = SealedRecord.from_item(item)
            except RecordError as exc:
                return prev_seq, prev_hash, caught, (expected, exc.reason, f"seq {expected}: {exc.detail}")
            if older.seq != expected:
                if self.table == "events" and prev_seq == 0 and state.seq == 0:
                    expected = older.seq  # the start of an event chain has expired from the hot table
                else:
                    return prev_seq, prev_hash, caught, (expected, "gap", f"seq {expected} is missing from the table")
            if not older.intact:
                return prev_seq, prev_hash, caught, (older.seq, "hash_mismatch",
                                                     f"seq {older.seq}: the stored hash does not match its content")
            link = self._check_link(older, prev_seq, prev_hash) or self._proof_problem(older)
            if link:
                return prev_seq, prev_hash, caught, link
            caught[older.seq] = record_line(older)
            expected, prev_seq, prev_hash = older.seq + 1, older.seq, older.hash
        if expected <= last:
            if self.table == "events" and not caught and state.seq == 0:
                return record.seq - 1, record.prev_hash, caught, None  # everything before it has expired
            return prev_seq, prev_hash, caught, (expected, "gap", f"seq {expected} is missing from the table")
        if caught:
            logger.warning("stream records were missed; caught up from the table",
                           extra={"chain": change.pk, "first": min(caught), "last": max(caught)})
        return prev_seq, prev_hash, caught, None

    # -- MODIFY / REMOVE -------------------------------------------------------------------------
    def _modify(self, change: StreamChange, state) -> None:
        if change.old == change.new:
            return  # an identical re-put (moto emits MODIFY for it; AWS emits nothing): no change
        changed = _changed_fields(change.old, change.new)
        self._alarm(change, change.seq, "modified",
                    f"seq {change.seq} was modified after sealing (fields: {', '.join(changed) or '?'})")
        new_hash = (change.new or {}).get("hash")
        if change.seq == state.seq and isinstance(new_hash, str):
            self._advance(change, state, seq=state.seq, hash=new_hash, add={})

    def _remove(self, change: StreamChange, state) -> None:
        if self._expiry is not None:
            expired, why = self._expiry.is_expiry(change)
            if expired:
                seq = change.seq or 0
                if seq > state.archived_through and seq not in (state.pending or {}):
                    self._alarm(change, seq, "expired_unarchived",
                                f"seq {seq} expired from the hot table before it was archived ({why})")
                return
            detail = f"seq {change.seq} was deleted ({why})"
        else:
            detail = f"seq {change.seq} was deleted from the journal"
        self._alarm(change, change.seq, "removed", detail)


# ---- checkpoints table ---------------------------------------------------------------------------


class CheckpointStreamArchiver:
    """Archives each new signed checkpoint (and the key that signed it); a changed or deleted
    checkpoint is a tamper alarm."""

    source = "stream:checkpoints"

    def __init__(self, archive, alarms, keys: Callable[[], list]) -> None:
        self._archive = archive
        self._alarms = alarms
        self._keys = keys
        self._archived_keys: dict[str, Any] = {}

    def begin_batch(self) -> None:
        pass

    def commit(self) -> set[str]:
        return set()

    def end_batch(self) -> None:
        pass

    def _alarm(self, change: StreamChange, reason: str, detail: str) -> None:
        tenant_id, chain = change.chain()
        self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, change.seq, reason, detail, self.source,
                                             evidence=f"{change.event}@{change.sequence_number}@{change.source_arn}"))

    def handle(self, change: StreamChange) -> None:
        if change.event == "MODIFY":
            if change.old != change.new:
                self._alarm(change, "checkpoint_modified",
                            f"the signed checkpoint at size {change.seq} was changed after signing")
            return
        if change.event == "REMOVE":
            self._alarm(change, "checkpoint_removed", f"the signed checkpoint at size {change.seq} was deleted")
            return
        try:
            checkpoint = Checkpoint.from_text((change.new or {}).get("text", ""))
        except CheckpointError as exc:
            self._alarm(change, "malformed", f"an inserted checkpoint does not parse: {exc.detail}")
            return
        if checkpoint.chain_key != change.pk or checkpoint.size != change.seq:
            self._alarm(change, "wrong_chain",
                        f"checkpoint for {checkpoint.chain_key} size {checkpoint.size} stored under "
                        f"{change.pk} / {change.seq}")
        self._ensure_key(checkpoint.key_id)
        self._archive.write_checkpoint(checkpoint)

    def _ensure_key(self, key_id: str) -> None:
        for key in self._keys():
            if self._archived_keys.get(key.key_id) != key:
                self._archive.write_key(key)
                self._archived_keys[key.key_id] = key


# ---- the batch: Powertools partial failures ------------------------------------------------------


class StreamProcessor:
    """Runs one Lambda batch through a handler with Powertools' batch utilities."""

    def __init__(self, table: str, handler, *, on_failures: Callable[[int], None] | None = None) -> None:
        self.table = table
        self._handler = handler
        self._on_failures = on_failures or (lambda n: None)

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Stage every record in order (Powertools reports each failure), then save the staged
        state per chain; a chain whose save fails fails from its first record of the batch on."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        records = event.get("Records") or []
        if not records:
            return {"batchItemFailures": []}
        ids = [str((r.get("dynamodb") or {}).get("SequenceNumber")) for r in records]
        chains: list[str] = []
        failed: list[str] = []

        def record_handler(record) -> None:
            raw = record.raw_event
            if failed:
                raise SkippedAfterFailure(f"not processed: record {failed[0]} failed earlier in this batch")
            try:
                change = parse_stream_record(raw, self.table)
                chains.append(change.pk)
                self._handler.handle(change)
            except Exception as exc:
                failed.append(str((raw.get("dynamodb") or {}).get("SequenceNumber")))
                logger.exception("stream record failed; it will be retried",
                                 extra={"table": self.table, "sequence_number": failed[-1], "error": str(exc)})
                raise

        self._handler.begin_batch()
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                            context=context)
        reported = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        first_bad = min((i for i, sid in enumerate(ids) if sid in reported), default=len(ids))
        unsaved = self._handler.commit()
        if unsaved:
            first_bad = min([first_bad, *(i for i, pk in enumerate(chains) if pk in unsaved)])
        if first_bad == len(ids):
            self._handler.end_batch()
        failures = [{"itemIdentifier": sid} for sid in ids[first_bad:]]
        if failures:
            self._on_failures(len(failures))
        return {"batchItemFailures": failures}
