"""Stream handler of the checkpoints table: archives every signed checkpoint (and its key); a
changed or deleted checkpoint is a tamper alarm."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import stream_arn
from chalicelib.wiring import Service, inject

archive_bp = Blueprint(__name__)


@archive_bp.on_dynamodb_record(stream_arn=stream_arn("checkpoints"), batch_size=100,
                               starting_position="TRIM_HORIZON")
@inject
def on_checkpoint_record(event, *, stream_processor=Service("stream_processor")):
    from chalicelib.observability import flush_metrics

    try:
        return stream_processor("checkpoints").process(event.to_dict(), event.context)
    finally:
        flush_metrics()
