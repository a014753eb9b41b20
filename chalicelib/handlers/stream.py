"""Stream handlers of the chain tables: stream verifier + archiver (+ anomaly rules on events).

Each returns ``{"batchItemFailures": [...]}``: Lambda (``ReportBatchItemFailures``, set by the
CDK stack) and the local pump retry from the first failed record.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import stream_arn

stream_bp = Blueprint(__name__)


def _process(table: str, event) -> dict:
    from chalicelib import bootstrap
    from chalicelib.observability import flush_metrics

    try:
        return bootstrap.stream_processor(table).process(event.to_dict(), event.context)
    finally:
        flush_metrics()


@stream_bp.on_dynamodb_record(stream_arn=stream_arn("journal"), batch_size=100, starting_position="TRIM_HORIZON")
def on_journal_record(event):
    return _process("journal", event)


@stream_bp.on_dynamodb_record(stream_arn=stream_arn("events"), batch_size=100, starting_position="TRIM_HORIZON")
def on_events_record(event):
    return _process("events", event)
