"""Idempotent POSTs: a request retried with the same ``Idempotency-Key`` returns the first result.

Built on Powertools' idempotency utility (persistence layer: the ``idempotency`` table on AWS,
``InMemoryPersistence`` in unit tests). The key is scoped by tenant, user and route so two
callers can never collide; the request body is validated, so the same key with another body
is a 409 problem, and a key whose first request is still running is a 409 too. If the work
raises, the key is released and the client may retry.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer, DataRecord

from chalicelib.domain.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


class IdempotentRunner:
    def __init__(self, persistence: BasePersistenceLayer, *, expires_after_seconds: int = 7 * 86400,
                 lambda_context: Callable[[], Any] = lambda: None) -> None:
        # The invocation's Lambda context (``lambda_context()``) is registered on every run, so
        # that an in-progress record expires when its Lambda's time is up: a request killed by a
        # timeout blocks its key until then, not for ``expires_after_seconds``. Without one (a
        # command, a unit test) in-progress records expire with the record.
        warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")
        self._lambda_context = lambda_context
        config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="payload",
            expires_after_seconds=expires_after_seconds,
            raise_on_no_idempotency_key=True,
        )

        @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=config,
                             key_prefix="scelle")
        def _run(request: dict[str, Any], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            return work()

        self._run = _run
        self._config = config

    def run(self, scope: str, key: str | None, payload: Any, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key is None:
            return work()
        if not _KEY.fullmatch(key):
            raise ValidationFailed("use 1 to 128 visible ASCII characters", field=HEADER)
        context = self._lambda_context()
        if context is not None:
            self._config.register_lambda_context(context)
        try:
            return self._run(request={"key": f"{scope}#{key}", "payload": payload}, work=work)
        except IdempotencyValidationError:
            raise Conflict(f"this {HEADER} was already used with a different request body", field=HEADER) from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict(f"a request with this {HEADER} is still being processed; retry shortly",
                           field=HEADER) from None


class InMemoryPersistence(BasePersistenceLayer):
    """Powertools persistence in a dict, for unit tests (same semantics as the DynamoDB layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and _in_progress_timed_out(existing):
            existing = None  # as the DynamoDB layer's condition: its Lambda's time is up
        if existing is not None and not existing.is_expired:
            # As the DynamoDB layer does: a different body under the same key is refused here.
            self._validate_payload(data_payload=data_record, stored_data_record=existing)
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


def _in_progress_timed_out(record: DataRecord) -> bool:
    import time

    expiry = record.in_progress_expiry_timestamp
    return record.status == "INPROGRESS" and expiry is not None and expiry < int(time.time() * 1000)
