"""Scheduled handlers of continuous verification (``close_periods`` belongs to the ledger)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import local_mode

schedules_bp = Blueprint(__name__)


@schedules_bp.schedule("rate(5 minutes)", name="sign_checkpoints")
def sign_checkpoints(event):
    from chalicelib import bootstrap
    from chalicelib.observability import flush_metrics

    request = event.to_dict() if hasattr(event, "to_dict") else event
    if isinstance(request, dict) and request.get("action") == "sign":
        # An on-demand checkpoint the API asked for (adapters/checkpoint_requests.py).
        from chalicelib.adapters.checkpoint_requests import handle_sign_request

        try:
            return handle_sign_request(bootstrap.checkpoints(), request)
        finally:
            flush_metrics()
    try:
        summaries = _seal_signin_summaries()
        run = bootstrap.checkpoint_signer().run()
        return {"signed": len(run.signed), "flushed": len(run.flushed), "refused": len(run.refused),
                "errors": len(run.errors), "signin_summaries": summaries}
    finally:
        flush_metrics()


def _seal_signin_summaries() -> int:
    """The summaries of failed sign-ins of the windows that are over (decision 0011); never in
    the way of checkpoint signing."""
    from chalicelib import bootstrap
    from chalicelib.observability import logger

    try:
        return len(bootstrap.signin_failures().flush())
    except Exception:
        logger.exception("could not seal the sign-in failure summaries; the next run retries")
        return -1


@schedules_bp.schedule("rate(1 hour)", name="verify_chains")
def verify_chains(event):
    from chalicelib import bootstrap
    from chalicelib.observability import flush_metrics

    try:
        derived = derive_missing_events()
        report = bootstrap.full_verifier().run()
        return {"chains": len(report.findings), "failures": [f"{f.tenant_id}/{f.chain}@{f.seq}:{f.reason}"
                                                             for f in report.failures],
                "errors": len(report.errors), "events_derived": derived}
    finally:
        flush_metrics()


def derive_missing_events() -> int:
    """The safety net of the stream-derived event journal (decision 0012): events that a failed
    stream batch left behind (its retries exhausted) are derived here, at most an hour late. One
    chain's failure never stops the others, nor the verification that follows."""
    from chalicelib import bootstrap
    from chalicelib.observability import logger

    deriver = bootstrap.container().event_deriver
    derived = 0
    for tenant_id, chain in bootstrap.container().chain_directory.all_chains():
        try:
            derived += deriver.catch_up(tenant_id, [chain])
        except Exception:
            logger.exception("events not derived yet; the next run retries",
                             extra={"tenant_id": tenant_id, "chain": chain})
    return derived


if local_mode():

    @schedules_bp.schedule("rate(1 hour)", name="sweep_expired_events")
    def sweep_expired_events(event):
        """Local mode only: moto never expires items (decision 0006)."""
        from chalicelib import bootstrap

        run = bootstrap.expiry_sweeper().run()
        return {"deleted": len(run.deleted), "waiting": len(run.waiting)}
