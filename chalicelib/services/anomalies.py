"""Anomaly rules over the event journal: run on each new event, filed once, listed for the tenant
admin, counted (``Anomalies``) and mailed.

Rules (each one testable on its own, configured by ``AnomalyConfig``):

* ``signin_burst``   — at least ``signin_failures`` failed sign-ins within ``signin_window`` for
  one account (``details.email`` / ``details.user_id``, or each of a summary's ``details.emails``)
  or one address (``details.ip`` / ``details.source_ip`` / ``details.address``), an aggregated
  event counting ``details.count`` attempts (decision 0011);
* ``reversal_share`` — on a reversal, the tenant's reversals of the business day exceed
  ``reversal_share`` of its sales (by amount: ``total_cents`` of ``sale_recorded`` events and the
  reversal entries' ``negated.totals.incl`` read from the ledger; by count when an amount is
  unknown), from ``min_reversals`` reversals;
* ``after_hours``    — a sale recorded outside the tenant's opening hours (its own weekly
  ``opening_hours`` — ``PUT /v1/tenants/{id}/settings`` — when set, else the config's daily
  ``opening_hours``, 06:00-22:00), in its time zone;
* ``first_export``   — an export requested by someone who never exported for this tenant;
* ``integrity``      — any verification failure or tamper alarm (mailed to the operator too).

Event kinds are matched on their last dotted part (``auth.signin_failed`` is ``signin_failed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.records import SealedRecord, parse_timestamp, utc_timestamp
from chalicelib.observability import logger
from chalicelib.services.events import PLATFORM_TENANT

INTEGRITY_KINDS = frozenset({"verification_failed", "tamper_alarm"})


@dataclass(frozen=True)
class AnomalyConfig:
    signin_failures: int = 5
    signin_window: timedelta = timedelta(minutes=10)
    reversal_share: float = 0.2
    min_reversals: int = 2
    opening_hours: tuple[time, time] = (time(6, 0), time(22, 0))
    history_limit: int = 2000


@dataclass(frozen=True)
class Anomaly:
    tenant_id: str
    rule: str
    key: str  # what makes it one anomaly within its rule and bucket
    bucket: str  # RFC 3339 time it is filed under (window start, business day, event time)
    severity: str  # "warning" | "critical"
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    notify_operator: bool = False

    @property
    def anomaly_id(self) -> str:
        return hashlib.sha256(f"{self.rule}|{self.key}|{self.bucket}".encode()).hexdigest()[:20]

    @property
    def sort_key(self) -> str:
        return f"{self.bucket}#{self.rule}#{self.anomaly_id}"


@dataclass(frozen=True)
class Event:
    """An event-journal record as the rules see it."""

    tenant_id: str
    seq: int
    kind: str
    actor: str | None
    details: dict[str, Any]
    at: datetime

    @classmethod
    def from_record(cls, record: SealedRecord) -> Event:
        data = record.data
        kind = str(data.get("kind", "")).rsplit(".", 1)[-1]
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
        # An event derived from a ledger entry happened when the entry was sealed, not when the
        # stream got to it (services/events.py).
        at = record.recorded_at
        if isinstance(details.get("recorded_at"), str):
            try:
                return cls(record.tenant_id, record.seq, kind, data.get("actor"), details,
                           parse_timestamp(details["recorded_at"]))
            except ValueError:
                pass
        return cls(record.tenant_id, record.seq, kind, data.get("actor"), details, parse_timestamp(at))


def _first(details: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        value = details.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _amount(details: dict[str, Any]) -> int | None:
    for name in ("total_cents", "amount_cents", "total_incl_cents", "gross_cents"):
        value = details.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return abs(value)
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _signin_failures(event: Event, kind: str) -> dict[str, int]:
    """Failed sign-ins an event stands for, per account (``kind="account"``) or per address. An
    aggregate (decision 0011) counts ``count``; a summary lists its most tried accounts in
    ``emails`` (``[{"email", "count"}]``); an event of one attempt counts 1."""
    d = event.details
    if kind == "account" and isinstance(d.get("emails"), list):
        found: dict[str, int] = {}
        for row in d["emails"]:
            if isinstance(row, dict) and row.get("email"):
                found[str(row["email"])] = found.get(str(row["email"]), 0) + _count(row.get("count"))
        return found
    names = ("email", "user_id", "username") if kind == "account" else ("ip", "source_ip", "address")
    value = _first(d, names)
    return {value: _count(d.get("count"))} if value else {}


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class Rules:
    """The rules, pure: ``evaluate(event, history, tenant)`` returns the anomalies it shows.

    ``history(start, end)`` returns the tenant's events with start <= time < end.
    ``tenant`` is the tenant (``time_zone``, ``business_day_cutoff``, optional ``opening_hours``)
    or None when unknown (UTC, midnight cut-off, default hours).
    """

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()

    def evaluate(
        self, event: Event, history: Callable[[datetime, datetime], list[Event]], tenant=None
    ) -> list[Anomaly]:
        handler = {
            "signin_failed": self._signin_burst,
            "entry_reversed": self._reversal_share,
            "sale_recorded": self._after_hours,
            "verification_failed": self._integrity,
            "tamper_alarm": self._integrity,
        }.get(event.kind)
        return handler(event, history, tenant) if handler else []

    # -- sign-in bursts ---------------------------------------------------------------------------
    def _signin_burst(self, event: Event, history, tenant) -> list[Anomaly]:
        c = self.config
        subjects = [(kind, value) for kind in ("account", "address") for value in _signin_failures(event, kind)]
        if not subjects:
            return []
        recent = [e for e in history(event.at - c.signin_window, event.at + timedelta(microseconds=1))
                  if e.kind == "signin_failed"]
        found = []
        for kind, value in subjects:
            hits = sum(_signin_failures(e, kind).get(value, 0) for e in recent)
            if hits >= c.signin_failures:
                minutes = int(c.signin_window.total_seconds() // 60)
                found.append(Anomaly(
                    event.tenant_id, "signin_burst", f"{kind}:{value}", utc_timestamp(_hour(event.at)), "warning",
                    f"{hits} failed sign-ins in {minutes} minutes for {kind} {value}",
                    {"subject_kind": kind, "subject": value, "failures": hits, "window_minutes": minutes,
                     "last_seq": event.seq},
                ))
        return found

    # -- reversals vs sales -----------------------------------------------------------------------
    def _business_day(self, moment: datetime, tenant) -> tuple[datetime, datetime, str]:
        zone = ZoneInfo(getattr(tenant, "time_zone", None) or "UTC")
        cutoff = getattr(tenant, "business_day_cutoff", None) or time(0, 0)
        local = moment.astimezone(zone)
        day = local.date() if local.time() >= cutoff else local.date() - timedelta(days=1)
        start = datetime.combine(day, cutoff, tzinfo=zone)
        return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC), day.isoformat()

    def _reversal_share(self, event: Event, history, tenant) -> list[Anomaly]:
        c = self.config
        start, end, day = self._business_day(event.at, tenant)
        events = history(start, min(end, event.at + timedelta(microseconds=1)))
        sales = [e for e in events if e.kind == "sale_recorded"]
        reversals = [e for e in events if e.kind == "entry_reversed"]
        if len(reversals) < c.min_reversals:
            return []
        sale_amounts = [_amount(e.details) for e in sales]
        reversal_amounts = [_amount(e.details) for e in reversals]
        if sales and None not in sale_amounts and None not in reversal_amounts:
            sold, reversed_, unit = sum(sale_amounts), sum(reversal_amounts), "amount"
        else:
            sold, reversed_, unit = len(sales), len(reversals), "count"
        if reversed_ <= c.reversal_share * sold:
            return []
        share = f"{(reversed_ / sold * 100):.0f}%" if sold else "no sales"
        return [Anomaly(
            event.tenant_id, "reversal_share", day, utc_timestamp(start), "warning",
            f"reversals on {day} are {share} of the day's sales (threshold {c.reversal_share:.0%}, by {unit})",
            {"business_day": day, "sales": len(sales), "reversals": len(reversals), "sold": sold,
             "reversed": reversed_, "by": unit, "last_seq": event.seq},
        )]

    # -- sales outside opening hours --------------------------------------------------------------
    def _after_hours(self, event: Event, history, tenant) -> list[Anomaly]:
        hours = getattr(tenant, "opening_hours", None) or self.config.opening_hours
        zone = ZoneInfo(getattr(tenant, "time_zone", None) or "UTC")
        local = event.at.astimezone(zone)
        if hasattr(hours, "is_open"):  # the tenant's own weekly hours (domain.tenant.OpeningHours)
            inside = hours.is_open(local)
            shown = f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[local.weekday()]} " + hours.describe(
                local.weekday())
        else:  # one daily window (the 06:00-22:00 default)
            opens, closes = hours
            moment = local.time()
            inside = opens <= moment < closes if opens <= closes else (moment >= opens or moment < closes)
            shown = f"{opens:%H:%M}-{closes:%H:%M}"
        if inside:
            return []
        start, _, day = self._business_day(event.at, tenant)
        return [Anomaly(
            event.tenant_id, "after_hours", day, utc_timestamp(start), "warning",
            f"sale recorded at {local:%H:%M} local time on {local:%Y-%m-%d}, outside opening hours "
            f"{shown}",
            {"local_time": local.isoformat(), "opening_hours": shown,
             "seller": event.actor, "first_seq": event.seq},
        )]

    # -- integrity --------------------------------------------------------------------------------
    def _integrity(self, event: Event, history, tenant) -> list[Anomaly]:
        d = event.details
        chain, seq, reason = d.get("chain"), d.get("seq", d.get("first_bad_seq")), d.get("reason")
        day = event.at.replace(hour=0, minute=0, second=0, microsecond=0)
        what = "tamper alarm" if event.kind == "tamper_alarm" else "verification failure"
        return [Anomaly(
            event.tenant_id, "integrity", f"{chain}:{seq}:{reason}", utc_timestamp(day), "critical",
            f"{what} on chain {chain} at seq {seq}: {reason}",
            {"chain": chain, "seq": seq, "reason": reason, "detail": str(d.get("detail", ""))[:1000],
             "source": d.get("source", "full verifier" if event.kind == "verification_failed" else ""),
             "event_seq": event.seq},
            notify_operator=True,
        )]


class AnomalyService:
    def __init__(
        self,
        ops,
        events_store,
        *,
        rules: Rules | None = None,
        tenant_of: Callable[[str], Any] = lambda tenant_id: None,
        admin_emails: Callable[[str], list[str]] = lambda tenant_id: [],
        operator_emails: Callable[[], list[str]] = list,
        mailer: Callable[[], Any] = lambda: None,
        journal: Callable[[], Any] | None = None,
        on_anomaly: Callable[[], None] | None = None,
        entry_amount: Callable[[str, str, int], int | None] | None = None,
    ) -> None:
        self._ops = ops
        self._events = events_store
        self.rules = rules or Rules()
        self._tenant_of = tenant_of
        self._admin_emails = admin_emails
        self._operator_emails = operator_emails
        self._mailer = mailer
        self._journal = journal
        self._on_anomaly = on_anomaly or (lambda: None)
        self._entry_amount = entry_amount

    # -- evaluation -------------------------------------------------------------------------------
    def on_event(self, record: SealedRecord) -> list[Anomaly]:
        """Run the rules on one new event; file what they find. Returns the anomalies filed now."""
        event = self._with_amount(Event.from_record(record))
        if event.kind == "anomaly":
            return []
        if event.kind == "export_requested":
            return self._first_export(event)
        tenant = self._tenant(event.tenant_id) if event.kind in ("entry_reversed", "sale_recorded") else None
        found = self.rules.evaluate(event, lambda start, end: self._history(event.tenant_id, start, end), tenant)
        return [a for a in found if self.file(a)]

    def _tenant(self, tenant_id: str):
        if tenant_id == PLATFORM_TENANT:
            return None
        try:
            return self._tenant_of(tenant_id)
        except Exception:
            return None

    def _history(self, tenant_id: str, start: datetime, end: datetime) -> list[Event]:
        from chalicelib.domain.records import chain_key
        from chalicelib.services.events import EVENTS_CHAIN

        records = self._events.by_time(chain_key(tenant_id, EVENTS_CHAIN), utc_timestamp(start), utc_timestamp(end),
                                       limit=self.rules.config.history_limit)
        return [self._with_amount(Event.from_record(r)) for r in records]

    def _with_amount(self, event: Event) -> Event:
        """A reversal event names its ledger entry (chain, seq), not its amount: read it there."""
        if event.kind != "entry_reversed" or self._entry_amount is None or _amount(event.details) is not None:
            return event
        chain, seq = event.details.get("chain"), event.details.get("seq")
        try:
            amount = self._entry_amount(event.tenant_id, chain, int(seq)) if chain and seq else None
        except Exception:
            logger.exception("could not read a reversal's amount", extra={"chain": chain, "seq": seq})
            amount = None
        if amount is None:
            return event
        return Event(event.tenant_id, event.seq, event.kind, event.actor, {**event.details, "total_cents": amount},
                     event.at)

    def _first_export(self, event: Event) -> list[Anomaly]:
        actor = event.actor or _first(event.details, ("user_id", "email")) or "unknown"
        marker = f"EXPORTERS#{event.tenant_id}"
        if self._ops.get(marker, actor) is not None:
            return []
        anomaly = Anomaly(
            event.tenant_id, "first_export", actor, utc_timestamp(event.at), "warning",
            f"first export ever requested by {actor}",
            {"actor": actor, "scope": event.details.get("scope"), "event_seq": event.seq},
        )
        filed = self.file(anomaly)
        self._ops.put_once(marker, actor, {"first_export_at": utc_timestamp(event.at), "event_seq": event.seq})
        return [anomaly] if filed else []

    # -- filing -----------------------------------------------------------------------------------
    def file(self, anomaly: Anomaly) -> bool:
        """Store ``anomaly`` once; on first filing count it, journal it and mail it."""
        item = {**asdict(anomaly), "anomaly_id": anomaly.anomaly_id, "filed_at": utc_timestamp(datetime.now(UTC))}
        if not self._ops.put_once(f"ANOMALY#{anomaly.tenant_id}", anomaly.sort_key, item):
            return False
        self._on_anomaly()
        logger.warning("anomaly", extra={"anomaly": item})
        if self._journal is not None:
            try:
                self._journal().record(anomaly.tenant_id, "anomaly", actor=None,
                                       details={"rule": anomaly.rule, "summary": anomaly.summary,
                                                "anomaly_id": anomaly.anomaly_id, "severity": anomaly.severity})
            except Exception:
                logger.exception("could not journal an anomaly", extra={"anomaly_id": anomaly.anomaly_id})
        self._mail(anomaly)
        return True

    def from_alarm(self, alarm) -> None:
        """A tamper alarm that could not be journaled: file its integrity anomaly directly."""
        now = datetime.now(UTC)
        event = Event(alarm.tenant_id, 0, "tamper_alarm", None,
                      {"chain": alarm.chain, "seq": alarm.seq, "reason": alarm.reason, "detail": alarm.detail,
                       "source": alarm.source}, now)
        for anomaly in self.rules.evaluate(event, lambda start, end: []):
            self.file(anomaly)

    def _mail(self, anomaly: Anomaly) -> None:
        recipients = [] if anomaly.tenant_id == PLATFORM_TENANT else list(self._safe(self._admin_emails,
                                                                                    anomaly.tenant_id))
        if anomaly.notify_operator or anomaly.tenant_id == PLATFORM_TENANT:
            recipients += [r for r in self._safe(self._operator_emails) if r not in recipients]
        if not recipients:
            logger.warning("anomaly has nobody to mail", extra={"anomaly_id": anomaly.anomaly_id})
            return
        try:
            mailer = self._mailer()
        except Exception:
            mailer = None
        if mailer is None:
            logger.warning("no mailer configured; anomaly not mailed", extra={"anomaly_id": anomaly.anomaly_id})
            return
        subject = f"[Scellé] {'ALERT' if anomaly.severity == 'critical' else 'Anomaly'}: {anomaly.summary}"[:200]
        text = "\n".join([
            f"Tenant: {anomaly.tenant_id}",
            f"Rule: {anomaly.rule} ({anomaly.severity})",
            f"When: {anomaly.bucket}",
            "",
            anomaly.summary,
            "",
            *(f"{k}: {v}" for k, v in sorted(anomaly.details.items())),
            "",
            "The list of anomalies is in Scellé (GET /v1/tenants/{tenant}/anomalies).".replace("{tenant}",
                                                                                                 anomaly.tenant_id),
        ])
        for to in recipients:
            try:
                mailer.send(to, subject, text)
            except Exception:
                logger.exception("anomaly mail failed", extra={"anomaly_id": anomaly.anomaly_id, "to": to})

    @staticmethod
    def _safe(fn, *args) -> list[str]:
        try:
            return list(fn(*args) or [])
        except Exception:
            logger.exception("could not resolve anomaly recipients")
            return []

    # -- listing ----------------------------------------------------------------------------------
    def list(self, tenant_id: str, *, limit: int = 50, after: str | None = None) -> tuple[list[dict], str | None]:
        """Newest first; ``after`` is the last sort key of the previous page."""
        return self._ops.query(f"ANOMALY#{tenant_id}", limit=limit, after_sk=after)
