"""Feeds the emulated DynamoDB streams to the very handlers registered with
``@app.on_dynamodb_record``, as Lambda's event source mapping would.

Semantics copied from Lambda with ``ReportBatchItemFailures``: records of a shard are delivered
in order; when a handler reports a failed item, the batch is retried from that item; after
``max_attempts`` the failed record goes to a dead-letter file (the DLQ of local mode) and the
pump moves on, loudly. The position (last sequence number done, per stream ARN) is saved after
every batch, so a restarted pump resumes exactly where it stopped.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from chalicelib.local.lambda_events import LocalContext, stream_event, stream_record_to_lambda
from chalicelib.observability import logger

_TABLE_IN_ARN = re.compile(r":table/([^/]+)/stream/")


def dynamodb_handlers(app) -> list[tuple[str, str, Any]]:
    """(logical table, handler name, handler) for each ``on_dynamodb_record`` registration."""
    from chalice.app import DynamoDBEventConfig

    found = []
    for source in app.event_sources:
        if isinstance(source, DynamoDBEventConfig):
            match = _TABLE_IN_ARN.search(source.stream_arn)
            table = match.group(1) if match else source.stream_arn
            found.append((table.rsplit("-", 1)[-1], source.name, app.handler_map[source.name]))
    return found


class StreamPump:
    def __init__(
        self,
        app,
        streams_client,
        stream_arns: dict[str, str],
        state_file: Path,
        *,
        region: str,
        batch_size: int = 100,
        max_attempts: int = 3,
        dead_letter_file: Path | None = None,
    ) -> None:
        self._streams = streams_client
        self._region = region
        self._state_file = state_file
        self._batch = batch_size
        self._max_attempts = max_attempts
        self._dlq = dead_letter_file or state_file.with_name("dead-letter.jsonl")
        self._targets = [
            (stream_arns[table], name, handler)
            for table, name, handler in dynamodb_handlers(app)
            if table in stream_arns
        ]
        self._positions: dict[str, str] = self._load()
        self._iterators: dict[tuple[str, str], str] = {}
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self._state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._positions, indent=1))
        tmp.replace(self._state_file)

    def _iterator(self, arn: str, shard_id: str) -> str:
        key = (arn, shard_id)
        if key not in self._iterators:
            position = self._positions.get(f"{arn}|{shard_id}")
            kwargs = {"StreamArn": arn, "ShardId": shard_id}
            if position:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
            else:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            self._iterators[key] = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
        return self._iterators[key]

    def run_once(self) -> int:
        """Deliver everything available now. Returns the number of records handled."""
        with self._lock:
            done = 0
            for arn, name, handler in self._targets:
                shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
                for shard in shards:
                    done += self._drain_shard(arn, shard["ShardId"], name, handler)
            return done

    def _drain_shard(self, arn: str, shard_id: str, name: str, handler) -> int:
        done = 0
        while True:
            records = self._streams.get_records(ShardIterator=self._iterator(arn, shard_id), Limit=self._batch)[
                "Records"
            ]
            if not records:
                return done
            delivered = self._deliver(arn, shard_id, name, handler, records)
            done += delivered
            # Restart from the saved position: exactly after the last record handled.
            self._iterators.pop((arn, shard_id), None)
            if delivered < len(records):
                return done

    def _deliver(self, arn: str, shard_id: str, name: str, handler, records: list[dict]) -> int:
        events = [stream_record_to_lambda(r, arn, self._region) for r in records]
        result = handler(stream_event(events), LocalContext(name)) or {}
        failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
        key = f"{arn}|{shard_id}"
        if not failures:
            self._positions[key] = records[-1]["dynamodb"]["SequenceNumber"]
            self._save()
            return len(records)
        first_bad = min(
            (i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failures), default=0
        )
        bad_seq = records[first_bad]["dynamodb"]["SequenceNumber"]
        if first_bad > 0:
            self._positions[key] = records[first_bad - 1]["dynamodb"]["SequenceNumber"]
        attempts = self._attempts.get(bad_seq, 0) + 1
        self._attempts[bad_seq] = attempts
        if attempts >= self._max_attempts:
            logger.error("stream record failed %s times; sent to dead letter", attempts,
                         extra={"handler": name, "sequence_number": bad_seq})
            with open(self._dlq, "a", encoding="utf-8") as out:
                out.write(json.dumps({"handler": name, "record": events[first_bad]}, default=str) + "\n")
            self._positions[key] = bad_seq
            self._attempts.pop(bad_seq, None)
            first_bad += 1
        self._save()
        return first_bad

    def drain(self, max_rounds: int = 100) -> int:
        """Run until nothing is left (used before a snapshot and at shutdown)."""
        total = 0
        for _ in range(max_rounds):
            n = self.run_once()
            total += n
            if n == 0:
                break
        return total
