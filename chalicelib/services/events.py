"""The event journal (JET): critical actions, sealed in each tenant's ``events`` chain.

Same sealing mechanism as the ledger, in its own table whose items expire from the hot table
after 30 days (TTL) once archived. Recording an event is part of the action: if it cannot be
recorded, the action fails rather than happen unrecorded.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.records import SealedRecord, chain_key
from chalicelib.services.sealing import ChainWriter

EVENTS_CHAIN = "events"
PLATFORM_TENANT = "_platform"
HOT_DAYS = 30

KINDS = frozenset(
    {
        "signup",
        "email_verified",
        "signin_succeeded",
        "signin_failed",
        "signin_locked",
        "signout",
        "invitation_sent",
        "invitation_accepted",
        "role_changed",
        "member_disabled",
        "member_enabled",
        "auditor_granted",
        "auditor_revoked",
        "went_live",
        "sale_recorded",
        "journal_recorded",
        "entry_reversed",
        "period_closed",
        "checkpoint_signed",
        "key_rotated",
        "export_requested",
        "export_url_issued",
        "verification_failed",
        "tamper_alarm",
        "anomaly",
        "config_changed",
    }
)


class EventJournal:
    def __init__(self, writer: ChainWriter) -> None:
        self._writer = writer

    def record(
        self,
        tenant_id: str,
        kind: str,
        *,
        actor: str | None,
        details: dict[str, Any] | None = None,
        training: bool = False,
    ) -> SealedRecord:
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        data = {"kind": kind, "actor": actor, "details": dict(details or {})}
        return self._writer.append(tenant_id or PLATFORM_TENANT, EVENTS_CHAIN, "event", data, training=training)

    def list(self, tenant_id: str, *, start: str, end: str, limit: int, after_seq: int | None = None):
        return self._writer.store.by_time(chain_key(tenant_id, EVENTS_CHAIN), start, end, limit=limit,
                                          after_seq=after_seq)
