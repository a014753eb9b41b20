"""Failed sign-ins, counted per tenant and time window and sealed as aggregates (decision 0011).

A failed sign-in is unauthenticated: sealing each one would let anyone grow a victim tenant's
``events`` chain and contend for its head at will. So each failure is *counted* in the ops
table, per (tenant or ``_platform``, window of ``WINDOW``) and per (tenant, window, email), and
the event journal receives at most two ``signin_failed`` events per tenant and window:

* the **first** failure of a window is sealed at once (``part: "first"``, ``count: 1``), so an
  attack shows in the journal (and to the anomaly rules) without delay;
* the **summary** of the rest (``part: "summary"``, ``count``: the failures not sealed one by
  one, the distinct addresses, the most tried ones with their counts, the reasons, the first and
  last time) is sealed once the window is over, by ``flush`` (run by the ``sign_checkpoints``
  schedule, every 5 minutes).

Nothing is lost: the window's counter is the truth, the summary seals ``count`` minus what was
sealed one by one, and a failure that arrives after its window was closed by a flush is counted
in the next window. Once the windows are flushed, the ``count`` of the sealed ``signin_failed``
events sum to the number of failures.

Ops items (``expires_at``: ``KEEP`` after the window):

* ``SIGNINFAIL#<tenant>`` / ``<window start>``: ``count``, ``reason_<reason>``, ``lockouts``,
  ``first_at``, ``last_at``, ``training``, ``listed``, ``first_sealed``, ``first_email``, then
  ``closed_at``/``lease_until`` (flush) and ``summary_at``/``summary_count`` (done);
* ``SIGNINFAIL#<tenant>#<window start>`` / ``<email>``: ``count`` of that address's failures not
  sealed one by one;
* ``SIGNINFAIL#PENDING`` / ``<window start>#<tenant>``: a window waiting for its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.records import parse_timestamp, utc_timestamp
from chalicelib.observability import logger

WINDOW = timedelta(minutes=5)
GRACE = timedelta(minutes=1)  # a window is summarised this long after it ends (clock skew, slow requests)
LEASE = timedelta(minutes=2)  # a flush that died lets another one retry after this
KEEP = timedelta(days=2)  # the counters expire (ops TTL) this long after their window
TOP_EMAILS = 10  # addresses named in a summary, most tried first
PENDING_PK = "SIGNINFAIL#PENDING"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def window_pk(tenant_id: str) -> str:
    return f"SIGNINFAIL#{tenant_id}"


def emails_pk(tenant_id: str, window: str) -> str:
    return f"SIGNINFAIL#{tenant_id}#{window}"


@dataclass(frozen=True)
class Flushed:
    tenant_id: str
    window: str
    count: int  # failures the summary sealed (0: none left after the first)


class SignInFailures:
    def __init__(
        self,
        ops,
        journal: Callable[[], Any],
        *,
        window: timedelta = WINDOW,
        grace: timedelta = GRACE,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ops = ops
        self._journal = journal
        self.window = window
        self.grace = grace
        self._clock = clock

    def window_start(self, moment: datetime) -> datetime:
        return moment - (moment - EPOCH) % self.window

    # -- counting (the sign-in request) ----------------------------------------------------------
    def record(
        self, tenant_id: str, *, training: bool, email: str, user_id: str | None, reason: str,
        lockout: bool = False,
    ) -> None:
        """Count one failed attempt of ``email`` in ``tenant_id``'s current window; seal it at
        once if it is the window's first. ``lockout``: it also locked the address (counted only:
        a lock-out of an address with an account is sealed on its own by the caller)."""
        now = self._clock()
        start = self.window_start(now)
        counts = {"count": 1, f"reason_{reason}": 1}
        if lockout:
            counts["lockouts"] = 1
        for _ in range(3):
            window = utc_timestamp(start)
            try:
                item = self._ops.increment(
                    window_pk(tenant_id), window, counts, values={"last_at": utc_timestamp(now)},
                    initial={"tenant_id": tenant_id, "first_at": utc_timestamp(now), "training": training},
                    refuse_if="closed_at", expires_at=self._expiry(start),
                )
                break
            except Conflict:  # a flush closed this window already: the failure counts in the next one
                start += self.window
        else:
            raise Unavailable("could not count a failed sign-in: its windows keep closing")
        if not item.get("listed"):
            self._ops.put_once(PENDING_PK, f"{window}#{tenant_id}", {"tenant_id": tenant_id, "window": window},
                               expires_at=self._expiry(start))
            self._ops.set_values(window_pk(tenant_id), window, {"listed": True})
        if item.get("count") == 1 and self._seal_first(tenant_id, window, start, training, email, user_id, reason,
                                                       now):
            return
        self._ops.increment(emails_pk(tenant_id, window), email, {"count": 1}, expires_at=self._expiry(start))

    def _seal_first(self, tenant_id, window, start, training, email, user_id, reason, now) -> bool:
        details = {"part": "first", "count": 1, "email": email, "user_id": user_id, "reason": reason,
                   "window_start": window, "window_end": utc_timestamp(start + self.window),
                   "first_at": utc_timestamp(now), "last_at": utc_timestamp(now)}
        try:
            self._journal().record(tenant_id, "signin_failed", actor=None,
                                   details={k: v for k, v in details.items() if v is not None}, training=training)
        except Exception:  # counted all the same: the window's summary will carry it
            logger.exception("could not seal the first failed sign-in of a window", extra={"tenant_id": tenant_id})
            return False
        self._ops.set_values(window_pk(tenant_id), window, {"first_sealed": 1, "first_email": email})
        return True

    def _expiry(self, start: datetime) -> int:
        return int((start + self.window + KEEP).timestamp())

    # -- summaries (the schedule) ----------------------------------------------------------------
    def flush(self, *, everything: bool = False) -> list[Flushed]:
        """Seal the summary of every window that is over (``everything``: of every window, even
        the current one; tests and shutdown). Returns what was sealed."""
        now = self._clock()
        due_before = utc_timestamp(now if everything else now - self.window - self.grace)
        done: list[Flushed] = []
        after = None
        while True:
            items, after = self._ops.query(PENDING_PK, limit=100, after_sk=after, descending=False)
            for marker in items:
                window, tenant_id = str(marker["window"]), str(marker["tenant_id"])
                if window > due_before:  # ascending: every later marker is for a later window
                    return done
                try:
                    flushed = self._flush_window(tenant_id, window, marker["sk"], now)
                except Exception:  # one window's trouble never stops the others; retried next run
                    logger.exception("could not seal a sign-in failure summary",
                                     extra={"tenant_id": tenant_id, "window": window})
                    continue
                if flushed is not None:
                    done.append(flushed)
            if after is None:
                return done

    def _flush_window(self, tenant_id: str, window: str, marker_sk: str, now: datetime) -> Flushed | None:
        pk = window_pk(tenant_id)
        item = self._ops.claim(pk, window, now=utc_timestamp(now), until=utc_timestamp(now + LEASE),
                               unless="summary_at")
        if item is None:
            current = self._ops.get(pk, window)
            if current is None or "summary_at" in current:  # expired, or summarised: nothing left to do
                self._ops.delete(PENDING_PK, marker_sk)
            return None  # else another flush holds the lease
        rest = int(item.get("count", 0)) - int(item.get("first_sealed", 0))
        if rest > 0:
            self._journal().record(tenant_id, "signin_failed", actor=None,
                                   details=self._summary(tenant_id, window, item, rest),
                                   training=bool(item.get("training", False)))
        self._ops.set_values(pk, window, {"summary_at": utc_timestamp(now), "summary_count": rest})
        self._ops.delete(PENDING_PK, marker_sk)
        return Flushed(tenant_id, window, rest)

    def _summary(self, tenant_id: str, window: str, item: dict, rest: int) -> dict[str, Any]:
        emails: dict[str, int] = {}
        after = None
        while True:
            rows, after = self._ops.query(emails_pk(tenant_id, window), limit=500, after_sk=after, descending=False)
            for row in rows:
                emails[str(row["sk"])] = emails.get(str(row["sk"]), 0) + int(row.get("count", 0))
            if after is None:
                break
        distinct = set(emails) | ({str(item["first_email"])} if item.get("first_email") else set())
        top = sorted(emails.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_EMAILS]
        end = utc_timestamp(parse_timestamp(window) + self.window)
        details: dict[str, Any] = {
            "part": "summary",
            "count": rest,
            "window_count": int(item.get("count", 0)),
            "window_start": window,
            "window_end": end,
            "first_at": item.get("first_at"),
            "last_at": item.get("last_at"),
            "distinct_emails": len(distinct),
            "emails": [{"email": e, "count": n} for e, n in top],
            "reasons": {name.removeprefix("reason_"): int(v) for name, v in sorted(item.items())
                        if name.startswith("reason_")},
            "lockouts": int(item.get("lockouts", 0)),
        }
        if len(emails) == 1:
            details["email"] = next(iter(emails))
        return {k: v for k, v in details.items() if v is not None}
