"""Stream, schedule and async handlers: thin functions that parse an event and call a service."""

from __future__ import annotations


def register_handlers(app) -> None:
    """Register the event-driven handlers (added by the ledger and verification modules)."""
    # Continuous verification: stream verifier + archiver, checkpoint archiver, scheduled work.
    from chalicelib.handlers.archive import archive_bp
    from chalicelib.handlers.schedules import schedules_bp
    from chalicelib.handlers.stream import stream_bp

    app.register_blueprint(stream_bp)
    app.register_blueprint(archive_bp)
    app.register_blueprint(schedules_bp)

    # The workers of scheduled work, one unit per chain (decision 0028).
    from chalicelib.handlers.work import work_bp

    app.register_blueprint(work_bp)

    # Ledger: automatic daily/monthly/yearly closures.
    from chalicelib.handlers.closures import closures_bp

    app.register_blueprint(closures_bp)

    # Exports: the asynchronous archive builder (build_export).
    from chalicelib.handlers.exports import exports_bp

    app.register_blueprint(exports_bp)

    # The independent witness (decision 0024): co-signs checkpoints, under its own role.
    from chalicelib.handlers.witness import witness_bp

    app.register_blueprint(witness_bp)

    # Support: ticket SLA schedule, newsletter sender, inbound mail (SES -> S3 -> Lambda).
    from chalicelib.handlers.support import support_handlers_bp

    app.register_blueprint(support_handlers_bp)
