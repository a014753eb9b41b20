"""Exceptional mailings: a newsletter to every user, or a mail to users active in the last N months.

Two steps, so that nobody mails everyone by mistake:

1. ``prepare`` records the mailing (``preparing``) and starts ``send_mailing``, which resolves the
   audience into one recipient item per address (``prepared``, with the count).
2. ``confirm`` quotes that count back; the mailing becomes ``sending`` and ``send_mailing``
   sends at a bounded rate, stopping before the Lambda time limit and starting itself again.

Each recipient moves ``pending -> claimed -> sent`` with conditional writes. The claim is written
**before** the send: a crash between the two leaves the recipient ``claimed`` and it is never
sent again (at most once; the progress calls these "uncertain"). A send that SES refused, or that
never left (no connection), is certainly not delivered: the recipient becomes ``failed`` and a
resume retries it. Unsubscribed addresses are ``skipped`` at send time, so an unsubscribe made
during a mailing is honoured. Decision: docs/decisions/0010-support.md.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import Conflict, NotFound, ScelleError, Unavailable, ValidationFailed
from chalicelib.domain.identity import Principal
from chalicelib.domain.support import (
    MAILING_KINDS,
    MAX_MONTHS,
    MAX_SUBJECT,
    Mailing,
    Progress,
    Recipient,
    UnsubscribeTokens,
    clean_text,
    is_id,
    mask_email,
    new_id,
    to_millis,
)
from chalicelib.observability import logger

MAX_MAILING_BODY = 50_000
STOP_BEFORE_MS = 60_000  # leave a minute of Lambda time, then continue in a new invocation
MAX_CONSECUTIVE_REFUSALS = 3


def _now() -> datetime:
    return datetime.now(UTC)


def months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def certainly_not_sent(exc: BaseException) -> bool:
    """True when the mail certainly did not leave: SES answered with an error, or no connection
    was ever made. A timeout after the request was sent is *not* certain."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return isinstance(cause, ClientError | EndpointConnectionError | ConnectTimeoutError)


class MailingService:
    def __init__(
        self,
        store,
        accounts,
        users: Callable[[], Iterable[dict[str, Any]]],
        mailer: Callable[[], Any],
        tokens: Callable[[], UnsubscribeTokens],
        invoke: Callable[[dict[str, Any]], None],
        *,
        rate: float = 10.0,
        public_base_url: str = "",
        clock: Callable[[], datetime] = _now,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._users = users
        self._mailer = mailer
        self._tokens = tokens
        self._invoke = invoke
        self.rate = rate
        self._base = public_base_url.rstrip("/")
        self._clock = to_millis(clock)
        self._sleep = sleep
        self._monotonic = monotonic

    # ---- operator steps ------------------------------------------------------------------------
    def prepare(self, principal: Principal, *, kind: object, subject: object, body: object,
                months: object = None) -> Mailing:
        if kind not in MAILING_KINDS:
            raise ValidationFailed(f"Kind must be one of {list(MAILING_KINDS)}; got {kind!r}.", field="kind")
        subject_text = clean_text(subject, "subject", MAX_SUBJECT, single_line=True)
        body_text = clean_text(body, "body", MAX_MAILING_BODY)
        if kind == "recent_users":
            if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= MAX_MONTHS:
                raise ValidationFailed(f"months must be a whole number from 1 to {MAX_MONTHS}.", field="months")
        elif months is not None:
            raise ValidationFailed("months applies to recent_users mailings only.", field="months")
        self._check_configured()
        now = self._clock()
        mailing = Mailing(new_id("u"), kind, subject_text, body_text, "preparing",  # type: ignore[arg-type]
                          principal.user_id, now, now, months=months)  # type: ignore[arg-type]
        self._store.create_mailing(mailing)
        self._start(mailing, "prepare")
        return mailing

    def get(self, mailing_id: str) -> Mailing:
        mailing = self._store.get_mailing(mailing_id) if is_id(mailing_id, "u") else None
        if mailing is None:
            raise NotFound("mailing not found", field="mailing_id")
        return mailing

    def list(self, *, limit: int, cursor: str | None) -> tuple[list[Mailing], str | None]:
        return self._store.mailings(limit=limit, cursor=cursor)

    def progress(self, mailing_id: str) -> Progress:
        return self._store.progress(mailing_id)

    def confirm(self, principal: Principal, mailing_id: str, recipients: int) -> Mailing:
        mailing = self.get(mailing_id)
        if mailing.status != "prepared":
            raise Conflict(f"only a prepared mailing can be confirmed; this one is {mailing.status}", field="status")
        if recipients != mailing.recipients:
            raise Conflict(f"the mailing was prepared for {mailing.recipients} recipients, not {recipients}",
                           field="recipients")
        now = self._clock()
        sending = replace(mailing, status="sending", confirmed_by=principal.user_id, confirmed_at=now, updated_at=now)
        if not self._store.save_mailing(sending, expected=("prepared",)):
            raise Conflict("the mailing changed meanwhile; reload it", field="status")
        self._start(sending, "send")
        return sending

    def resume(self, principal: Principal, mailing_id: str) -> Mailing:
        """Continue a failed (or stalled) mailing: failed recipients are retried; claimed ones are
        not (they may have been mailed)."""
        mailing = self.get(mailing_id)
        if mailing.status not in ("failed", "sending"):
            raise Conflict(f"only a failed or sending mailing can be resumed; this one is {mailing.status}",
                           field="status")
        for r in list(self._store.recipients(mailing_id, "failed")):
            self._store.move_recipient(mailing_id, r.email, "failed", "pending")
        resumed = replace(mailing, status="sending", last_error=None, updated_at=self._clock())
        if not self._store.save_mailing(resumed, expected=(mailing.status,)):
            raise Conflict("the mailing changed meanwhile; reload it", field="status")
        self._start(resumed, "send")
        return resumed

    def cancel(self, principal: Principal, mailing_id: str) -> Mailing:
        mailing = self.get(mailing_id)
        if mailing.status in ("done", "cancelled"):
            raise Conflict(f"the mailing is already {mailing.status}", field="status")
        cancelled = replace(mailing, status="cancelled", updated_at=self._clock(), finished_at=self._clock())
        if not self._store.save_mailing(cancelled, expected=(mailing.status,)):
            raise Conflict("the mailing changed meanwhile; reload it", field="status")
        return cancelled

    def _start(self, mailing: Mailing, step: str) -> None:
        try:
            self._invoke({"mailing_id": mailing.mailing_id, "step": step})
        except ScelleError as exc:
            failed = replace(mailing, status="failed" if step == "send" else mailing.status, last_error=exc.detail)
            self._store.save_mailing(failed, expected=(mailing.status,))
            raise

    # ---- send_mailing (async) ------------------------------------------------------------------
    def handle(self, event: dict[str, Any], remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        mailing_id = str(event.get("mailing_id", ""))
        if event.get("step") == "prepare":
            return self.build_audience(mailing_id)
        return self.run(mailing_id, remaining_ms)

    def audience(self, mailing: Mailing) -> dict[str, str]:
        """email -> user id: verified, non-operator accounts (and, for recent_users, active since
        the cut-off date)."""
        out: dict[str, str] = {}
        if mailing.kind == "newsletter":
            for user in self._users():
                if user.get("email_verified") and not user.get("operator") and user.get("email"):
                    out[str(user["email"]).lower()] = str(user["user_id"])
            return out
        since = months_before(self._clock().date(), mailing.months or 1)
        for user_id, _ in self._store.active_since(since):
            user = self._accounts.get_user(user_id)
            if user is not None and user.email_verified and not user.operator:
                out[user.email.lower()] = user.user_id
        return out

    def build_audience(self, mailing_id: str) -> dict[str, Any]:
        mailing = self._store.get_mailing(mailing_id)
        if mailing is None or mailing.status != "preparing":
            return {"mailing_id": mailing_id, "status": mailing.status if mailing else "unknown"}
        try:
            audience = self.audience(mailing)
            self._store.add_recipients(mailing_id, [Recipient(e, u) for e, u in sorted(audience.items())])
        except ScelleError as exc:
            self._store.save_mailing(replace(mailing, status="failed", last_error=exc.detail), expected=("preparing",))
            raise
        prepared = replace(mailing, status="prepared", recipients=len(audience), updated_at=self._clock())
        self._store.save_mailing(prepared, expected=("preparing",))
        return {"mailing_id": mailing_id, "status": "prepared", "recipients": len(audience)}

    def run(self, mailing_id: str, remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        mailing = self._store.get_mailing(mailing_id)
        if mailing is None or mailing.status != "sending":
            return {"mailing_id": mailing_id, "status": mailing.status if mailing else "unknown"}
        try:
            self._check_configured()  # before any claim: a missing key must not strand a recipient
        except ScelleError as exc:
            self._fail(mailing_id, exc.detail)
            raise
        mailing = replace(mailing, runs=mailing.runs + 1)
        self._store.save_mailing(mailing, expected=("sending",))
        mailer = self._mailer()
        interval = 1.0 / self.rate
        next_at = self._monotonic()
        sent = skipped = refused = 0
        for count, r in enumerate(self._store.recipients(mailing_id, "pending")):
            if remaining_ms() < STOP_BEFORE_MS:
                self._invoke({"mailing_id": mailing_id, "step": "send"})
                return {"mailing_id": mailing_id, "status": "continuing", "sent": sent, "skipped": skipped}
            if count and count % 50 == 0:
                current = self._store.get_mailing(mailing_id)
                if current is None or current.status != "sending":  # cancelled meanwhile
                    return {"mailing_id": mailing_id, "status": current.status if current else "unknown",
                            "sent": sent}
            if self._store.is_unsubscribed(r.email):
                skipped += self._store.move_recipient(mailing_id, r.email, "pending", "skipped", error="unsubscribed")
                continue
            wait = next_at - self._monotonic()
            if wait > 0:
                self._sleep(wait)
            next_at = max(next_at, self._monotonic()) + interval
            if not self._store.move_recipient(mailing_id, r.email, "pending", "claimed", claimed_at=self._clock()):
                continue  # another worker has it
            text, html = self._content(mailing, r.email)
            try:
                message_id = mailer.send(r.email, mailing.subject, text, html)
            except Exception as exc:
                detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
                if certainly_not_sent(exc):
                    self._store.move_recipient(mailing_id, r.email, "claimed", "failed", error=detail[:500])
                    refused += 1
                    if refused < MAX_CONSECUTIVE_REFUSALS:
                        continue
                else:
                    logger.exception("mailing stopped: a send may or may not have left",
                                     extra={"mailing_id": mailing_id})
                self._fail(mailing_id, detail)
                return {"mailing_id": mailing_id, "status": "failed", "sent": sent, "error": detail}
            refused = 0
            self._store.move_recipient(mailing_id, r.email, "claimed", "sent", sent_at=self._clock(),
                                       message_id=str(message_id or ""))
            sent += 1
        progress = self._store.progress(mailing_id)
        if progress.counts["pending"] == 0:
            current = self._store.get_mailing(mailing_id)
            if current is not None and current.status == "sending":
                status = "failed" if progress.counts["failed"] else "done"
                now = self._clock()
                self._store.save_mailing(
                    replace(current, status=status, updated_at=now, finished_at=now if status == "done" else None,
                            last_error=f"{progress.counts['failed']} recipients refused by SES; resume to retry"
                            if status == "failed" else None),
                    expected=("sending",),
                )
                return {"mailing_id": mailing_id, "status": status, "sent": sent, "skipped": skipped}
        return {"mailing_id": mailing_id, "status": "sending", "sent": sent, "skipped": skipped}

    def _fail(self, mailing_id: str, detail: str) -> None:
        current = self._store.get_mailing(mailing_id)
        if current is not None and current.status == "sending":
            self._store.save_mailing(replace(current, status="failed", last_error=detail[:500],
                                             updated_at=self._clock()), expected=("sending",))

    def _check_configured(self) -> None:
        try:
            self._tokens()
        except Exception as exc:  # ConfigError: no unsubscribe key on AWS
            raise Unavailable(f"mailings are not configured: {exc}") from exc

    def unsubscribe_url(self, email: str) -> str:
        return f"{self._base}/v1/unsubscribe?token={quote(self._tokens().sign(email))}"

    def _content(self, mailing: Mailing, email: str) -> tuple[str, str]:
        from html import escape

        from chalicelib.services.news import render_markdown

        url = self.unsubscribe_url(email)
        why = ("You receive this because you have a Scellé account." if mailing.kind == "newsletter"
               else "You receive this because you used Scellé recently.")
        text = f"{mailing.body}\n\n-- \n{why}\nUnsubscribe: {url}\n"
        html = (f"{render_markdown(mailing.body)}<hr><p>{escape(why)} "
                f'<a href="{escape(url, quote=True)}">Unsubscribe</a></p>')
        return text, html

    # ---- unsubscribe (public, signed token) ----------------------------------------------------
    def unsubscribe_status(self, token: str) -> dict[str, Any]:
        email = self._tokens().verify(token)
        return {"email": mask_email(email), "unsubscribed": self._store.is_unsubscribed(email)}

    def unsubscribe(self, token: str) -> dict[str, Any]:
        email = self._tokens().verify(token)
        self._store.unsubscribe(email, self._clock())
        return {"email": mask_email(email), "unsubscribed": True}

    # ---- activity (for recent_users) -----------------------------------------------------------
    def touch(self, principal: Principal) -> None:
        """Note that this user used the app today (at most one write per user and day). Never
        fails the request it rides on."""
        try:
            email = principal.email
            if not email:
                user = self._accounts.get_user(principal.user_id)
                email = user.email if user else ""
            if email:
                self._store.touch_activity(principal.user_id, email.lower(), self._clock().date())
        except Exception:
            logger.exception("could not record activity")
