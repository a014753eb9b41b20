"""Scheduled handlers of continuous verification: each lists the chains and queues one unit of
work per chain (decision 0028); the workers (chalicelib/handlers/work.py) do the work.
``close_periods`` belongs to the ledger (handlers/closures.py)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import local_mode
from chalicelib.wiring import Service, inject

schedules_bp = Blueprint(__name__)


def dispatch(work_dispatcher, clock, job: str, event) -> dict:
    """Queue one ``job`` unit per chain for this schedule's window."""
    from chalicelib.services.scheduled_work import schedule_window

    raw = event.to_dict() if hasattr(event, "to_dict") else event
    run = work_dispatcher.dispatch(job, schedule_window(raw, clock()))
    return {"job": job, "chains": run.chains, "queued": run.sent}


@schedules_bp.schedule("rate(5 minutes)", name="sign_checkpoints")
@inject
def sign_checkpoints(event, *, work_dispatcher=Service("work_dispatcher"), clock=Service("clock"),
                     signin_failures=Service("signin_failures")):
    from chalicelib.observability import flush_metrics

    try:
        summaries = _seal_signin_summaries(signin_failures)
        return {**dispatch(work_dispatcher, clock, "sign", event), "signin_summaries": summaries}
    finally:
        flush_metrics()


def _seal_signin_summaries(signin_failures) -> int:
    """The summaries of failed sign-ins of the windows that are over (decision 0011); never in
    the way of the signing units."""
    from chalicelib.observability import logger

    try:
        return len(signin_failures.flush())
    except Exception:
        logger.exception("could not seal the sign-in failure summaries; the next run retries")
        return -1


@schedules_bp.schedule("rate(1 hour)", name="verify_chains")
@inject
def verify_chains(event, *, work_dispatcher=Service("work_dispatcher"), clock=Service("clock")):
    """Each unit derives the events a failed stream batch left behind (the safety net of decision
    0012, at most an hour late) and re-verifies its chain against its witnesses."""
    from chalicelib.observability import flush_metrics

    try:
        return dispatch(work_dispatcher, clock, "verify", event)
    finally:
        flush_metrics()


@inject
def derive_missing_events(*, event_deriver=Service("event_deriver"), chain_directory=Service("chain_directory")) -> int:
    """Every chain's missed events at once: the local stack runs it after recovering from a crash,
    whose stream records are gone with the old streams (decision 0012). One chain's failure never
    stops the others."""
    from chalicelib.observability import logger

    derived = 0
    for tenant_id, chain in chain_directory.all_chains():
        try:
            derived += event_deriver.catch_up(tenant_id, [chain])
        except Exception:
            logger.exception("events not derived yet; the next run retries",
                             extra={"tenant_id": tenant_id, "chain": chain})
    return derived


if local_mode():

    @schedules_bp.schedule("rate(1 hour)", name="sweep_expired_events")
    @inject
    def sweep_expired_events(event, *, expiry_sweeper=Service("expiry_sweeper")):
        """Local mode only: moto never expires items (decision 0006)."""
        run = expiry_sweeper.run()
        return {"deleted": len(run.deleted), "waiting": len(run.waiting)}
