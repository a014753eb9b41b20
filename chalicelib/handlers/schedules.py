"""Scheduled handlers of continuous verification (``close_periods`` belongs to the ledger)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers._sources import local_mode

schedules_bp = Blueprint(__name__)


@schedules_bp.schedule("rate(5 minutes)", name="sign_checkpoints")
def sign_checkpoints(event):
    from chalicelib import bootstrap
    from chalicelib.observability import flush_metrics

    try:
        run = bootstrap.checkpoint_signer().run()
        return {"signed": len(run.signed), "flushed": len(run.flushed), "refused": len(run.refused),
                "errors": len(run.errors)}
    finally:
        flush_metrics()


@schedules_bp.schedule("rate(1 hour)", name="verify_chains")
def verify_chains(event):
    from chalicelib import bootstrap
    from chalicelib.observability import flush_metrics

    try:
        report = bootstrap.full_verifier().run()
        return {"chains": len(report.findings), "failures": [f"{f.tenant_id}/{f.chain}@{f.seq}:{f.reason}"
                                                             for f in report.failures],
                "errors": len(report.errors)}
    finally:
        flush_metrics()


if local_mode():

    @schedules_bp.schedule("rate(1 hour)", name="sweep_expired_events")
    def sweep_expired_events(event):
        """Local mode only: moto never expires items (decision 0006)."""
        from chalicelib import bootstrap

        run = bootstrap.expiry_sweeper().run()
        return {"deleted": len(run.deleted), "waiting": len(run.waiting)}
