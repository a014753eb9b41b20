"""Tamper alarms: raised by the stream verifier and the full verifier, each exactly once.

An alarm names the tenant, the chain and the first bad seq, says why, and carries the evidence
that makes it unique (the stream record's sequence number, or the heads compared). Raising one
stores it in the ops table (a repeat of the same evidence is a no-op), counts ``TamperAlarms``,
logs it as an error and records a ``tamper_alarm`` event in the tenant's event journal, from
which the anomaly rules list it for the tenant admin and mail the admin and the operator. If
the event cannot be recorded (the journal itself may be what was tampered with), the alarm goes
to ``fallback`` directly: it is never lost between the two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from chalicelib.domain.records import utc_timestamp
from chalicelib.observability import logger
from chalicelib.services.events import PLATFORM_TENANT


@dataclass(frozen=True)
class TamperAlarm:
    tenant_id: str
    chain: str
    seq: int | None
    reason: str
    detail: str
    source: str  # "stream:journal", "stream:events", "stream:checkpoints", "full"
    evidence: str = ""

    @property
    def alarm_id(self) -> str:
        text = "|".join((self.source, self.tenant_id, self.chain, str(self.seq), self.reason, self.evidence))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "the chain"
        return f"{self.tenant_id}/{self.chain} {where}: {self.reason} — {self.detail}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlarmService:
    def __init__(
        self,
        ops,
        journal: Callable[[], object],
        *,
        on_alarm: Callable[[], None] | None = None,
        fallback: Callable[[TamperAlarm], None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ops = ops
        self._journal = journal
        self._on_alarm = on_alarm or (lambda: None)
        self._fallback = fallback or (lambda alarm: None)
        self._clock = clock

    def raise_alarm(self, alarm: TamperAlarm) -> bool:
        """Record and announce ``alarm``. False when the same alarm was raised before."""
        tenant = alarm.tenant_id or PLATFORM_TENANT
        attributes = {**asdict(alarm), "alarm_id": alarm.alarm_id, "raised_at": utc_timestamp(self._clock())}
        if not self._ops.put_once(f"ALARM#{tenant}", alarm.alarm_id, attributes):
            return False
        self._on_alarm()
        logger.error("TAMPER ALARM " + alarm.describe(), extra={"alarm": attributes})
        try:
            self._journal().record(
                tenant,
                "tamper_alarm",
                actor=None,
                details={"chain": alarm.chain, "seq": alarm.seq, "reason": alarm.reason, "detail": alarm.detail[:1000],
                         "source": alarm.source, "alarm_id": alarm.alarm_id},
            )
        except Exception:
            logger.exception("could not journal a tamper alarm; notifying directly", extra={"alarm_id": alarm.alarm_id})
            self._fallback(alarm)
        return True

    def list(self, tenant_id: str, *, limit: int = 100) -> list[dict]:
        items, _ = self._ops.query(f"ALARM#{tenant_id}", limit=limit)
        return sorted(items, key=lambda i: i.get("raised_at", ""), reverse=True)
