"""Units of scheduled work on SQS FIFO queues (decision 0028), and an in-memory queue for tests.

Each unit is one message: its group is its chain (two units of a chain never run at once), its
deduplication id names the job, the chain, the schedule's window and the slice, so that a
schedule delivered twice (EventBridge delivers at least once) or a dispatcher retried within
SQS's five-minute deduplication interval sends each unit once.
"""

from __future__ import annotations

import hashlib
import json
import threading

from chalicelib.domain.errors import Unavailable
from chalicelib.ports.work import ChainUnit

MAX_BATCH = 10  # SendMessageBatch: at most 10 entries, and the queue's MaximumMessageSize in all, per call
_ATTEMPTS = 3


def _dedup_id(unit: ChainUnit, window: str) -> str:
    # At most 128 characters: a digest of what makes the unit unique.
    text = f"{unit.job}|{unit.tenant_id}|{unit.chain}|{window}|{unit.from_seq}|{unit.full}"
    return hashlib.sha256(text.encode()).hexdigest()


def _group_id(unit: ChainUnit) -> str:
    return hashlib.sha256(f"{unit.tenant_id}#{unit.chain}".encode()).hexdigest()[:64]


class SqsWorkQueues:
    """``send(job queue, units, window)`` with SendMessageBatch, 10 at a time; the entries SQS
    refuses in a batch are sent again (twice), then reported as ``Unavailable``."""

    def __init__(self, client, queue_names: dict[str, str]) -> None:
        self._client = client
        self._names = queue_names  # job -> queue name
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def _url(self, job: str) -> str:
        with self._lock:
            if job not in self._urls:
                self._urls[job] = self._client.get_queue_url(QueueName=self._names[job])["QueueUrl"]
            return self._urls[job]

    def send(self, units: list[ChainUnit], *, window: str) -> int:
        sent = 0
        for i in range(0, len(units), MAX_BATCH):
            batch = {str(n): unit for n, unit in enumerate(units[i:i + MAX_BATCH])}
            for _ in range(_ATTEMPTS):
                by_queue: dict[str, list[tuple[str, ChainUnit]]] = {}
                for entry_id, unit in batch.items():
                    by_queue.setdefault(unit.job, []).append((entry_id, unit))
                failed: dict[str, ChainUnit] = {}
                for job, entries in by_queue.items():
                    resp = self._client.send_message_batch(QueueUrl=self._url(job), Entries=[
                        {"Id": entry_id, "MessageBody": json.dumps(unit.to_message(), sort_keys=True),
                         "MessageGroupId": _group_id(unit), "MessageDeduplicationId": _dedup_id(unit, window)}
                        for entry_id, unit in entries])
                    sent += len(resp.get("Successful", []))
                    failed.update({f["Id"]: batch[f["Id"]] for f in resp.get("Failed", [])})
                batch = failed
                if not batch:
                    break
            if batch:
                raise Unavailable(f"SQS refused {len(batch)} units of scheduled work; the next schedule sends them")
        return sent


class InMemoryWorkQueues:
    """A FIFO queue per job with SQS's deduplication, for tests: ``take(job)`` pops the oldest."""

    def __init__(self) -> None:
        self.messages: dict[str, list[dict]] = {}
        self._seen: set[str] = set()

    def send(self, units: list[ChainUnit], *, window: str) -> int:
        sent = 0
        for unit in units:
            dedup = _dedup_id(unit, window)
            if dedup in self._seen:
                continue
            self._seen.add(dedup)
            self.messages.setdefault(unit.job, []).append(unit.to_message())
            sent += 1
        return sent

    def take(self, job: str) -> ChainUnit | None:
        queue = self.messages.get(job) or []
        return ChainUnit.from_message(queue.pop(0)) if queue else None
