"""Stream, schedule and async handlers: thin functions that parse an event and call a service."""

from __future__ import annotations


def register_handlers(app) -> None:
    """Register the event-driven handlers (added by the ledger and verification modules)."""
