"""``close_periods``: hourly, queue one unit per production ledger chain (decision 0028); its
worker ``close_chain`` (handlers/work.py) closes every ended day, then month, then year. Closing
is idempotent: a closed period is never closed again, so a unit retried or sent twice is harmless.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.wiring import Service, inject

closures_bp = Blueprint(__name__)


@closures_bp.schedule("rate(1 hour)", name="close_periods")
@inject
def close_periods(event, *, work_dispatcher=Service("work_dispatcher"), clock=Service("clock")):
    from chalicelib.handlers.schedules import dispatch
    from chalicelib.observability import flush_metrics

    try:
        return dispatch(work_dispatcher, clock, "close", event)
    finally:
        flush_metrics()
