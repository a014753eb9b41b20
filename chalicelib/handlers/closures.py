"""``close_periods``: hourly, close every ended day, then month, then year of production chains.

Thin: enumerate chains, call the ledger service. A failure on one chain is logged and counted
and does not stop the others; the next run retries it (closing is idempotent: a closed period
is never closed again).
"""

from __future__ import annotations

from chalice import Blueprint

closures_bp = Blueprint(__name__)


@closures_bp.schedule("rate(1 hour)", name="close_periods")
def close_periods(event):
    from chalicelib import bootstrap
    from chalicelib.observability import count, flush_metrics, logger

    written = failed = 0
    ledger = bootstrap.ledger()
    for tenant_id, chain in bootstrap.chain_directory().all_chains():
        if not chain.startswith("prod.") or chain == "events":
            continue
        try:
            written += len(ledger.close_due_periods(tenant_id, chain))
        except Exception:
            failed += 1
            logger.exception("automatic closure failed", extra={"tenant_id": tenant_id, "chain": chain})
    if written:
        count("ClosuresWritten", written)
    if failed:
        count("ClosureFailures", failed)
    flush_metrics()
    return {"closures_written": written, "chains_failed": failed}
