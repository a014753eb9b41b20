"""Feeds the work queues (decision 0028) to their workers, as Lambda's SQS event source mapping
would on AWS: messages are received (batch size 1, as the stack wires it), handed to the worker
named by ``RESOURCES.queues`` as an SQS event, and deleted unless the worker reports them in
``batchItemFailures`` (or raises). A failed message becomes visible again after the queue's
visibility timeout; after ``max_receives`` receives the emulated queue moves it to its
dead-letter queue. Workers of different queues run one after the other here; on AWS side by side.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.local.lambda_events import LocalContext
from chalicelib.observability import logger
from chalicelib.resources import RESOURCES


class QueuePump:
    def __init__(self, app, sqs, settings, *, region: str) -> None:
        self._sqs = sqs
        self._region = region
        self._targets: list[tuple[str, str, str, Any]] = []  # (queue name, url, consumer, handler)
        for queue in RESOURCES.queues:
            name = settings.queue_name(queue.logical)
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self._targets.append((name, url, queue.consumer, app.handler_map[queue.consumer]))

    def run_once(self) -> int:
        """Every message visible now, each queue in turn; the number handed to a worker."""
        handled = 0
        for name, url, consumer, handler in self._targets:
            while True:
                resp = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                                 AttributeNames=["All"])
                messages = resp.get("Messages", [])
                if not messages:
                    break
                handled += len(messages)
                self._deliver(name, url, consumer, handler, messages)
        return handled

    def drain(self, timeout: float = 60.0) -> int:
        """Until no message is visible (units may queue continuations), at most ``timeout`` s."""
        deadline, total = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            handled = self.run_once()
            total += handled
            if not handled:
                break
        return total

    def _deliver(self, name: str, url: str, consumer: str, handler, messages: list[dict]) -> None:
        event = {"Records": [self._record(name, m) for m in messages]}
        try:
            result = handler(event, LocalContext(consumer))
            failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        except Exception:
            logger.exception("worker failed; its units become visible again after the visibility timeout",
                             extra={"worker": consumer})
            return
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _record(self, name: str, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{self._region}:000000000000:{name}",
            "awsRegion": self._region,
        }

