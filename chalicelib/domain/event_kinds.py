"""The kinds of event the event journal accepts (docs/user-guide.md lists them with their details):
shared by the journal service and its in-memory stand-in."""

from __future__ import annotations

KINDS = frozenset(
    {
        "signup",
        "email_verified",
        "signin_succeeded",
        "signin_failed",
        "signin_locked",
        "signout",
        "password_reset",
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
        "entry_recorded",
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
