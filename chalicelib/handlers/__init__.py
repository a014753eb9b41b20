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

    # Ledger: automatic daily/monthly/yearly closures.
    from chalicelib.handlers.closures import closures_bp

    app.register_blueprint(closures_bp)
