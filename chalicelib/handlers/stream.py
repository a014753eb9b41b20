"""Stream handlers of the chain tables: stream verifier + archiver (+ anomaly rules on events).

Each returns ``{"batchItemFailures": [...]}``: Lambda (``ReportBatchItemFailures``, set by the
CDK stack) and the local pump retry from the first failed record.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import stream_arn
from chalicelib.wiring import Service, inject

stream_bp = Blueprint(__name__)


def _process(processor, event) -> dict:
    from chalicelib.observability import flush_metrics

    try:
        return processor.process(event.to_dict(), event.context)
    finally:
        flush_metrics()


@stream_bp.on_dynamodb_record(stream_arn=stream_arn("journal"), batch_size=100, starting_position="TRIM_HORIZON")
@inject
def on_journal_record(event, *, stream_processor=Service("stream_processor")):
    return _process(stream_processor("journal"), event)


@stream_bp.on_dynamodb_record(stream_arn=stream_arn("events"), batch_size=100, starting_position="TRIM_HORIZON")
@inject
def on_events_record(event, *, stream_processor=Service("stream_processor")):
    return _process(stream_processor("events"), event)
