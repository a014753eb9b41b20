"""Exceptional mailings (operator, ``mailing.send``) and the public unsubscribe link.

A mailing is prepared (``POST /v1/operator/mailings``: the audience is resolved in the background),
then confirmed by quoting the recipient count back (``POST .../confirm``), then sent by
``send_mailing`` at a bounded rate; ``GET .../{mailing_id}`` shows the progress and ``POST
.../resume`` continues after a failure without mailing anyone twice.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel as Strict
from chalicelib.api.schemas import support_text
from chalicelib.domain.identity import Principal
from chalicelib.domain.permissions import PlatformPermission
from chalicelib.domain.support import MAX_MONTHS, MAX_SUBJECT, Mailing, Progress
from chalicelib.services.mailing import MAX_MAILING_BODY
from chalicelib.wiring import Service

mailings_bp = Blueprint(__name__)
TAGS = ("mailings",)


class MailingIn(Strict):
    kind: Literal["newsletter", "recent_users"] = Field(
        description="newsletter: every verified user; recent_users: users active in the last `months` months"
    )
    subject: Annotated[str, support_text(MAX_SUBJECT)] = Field(max_length=MAX_SUBJECT)
    body: Annotated[str, support_text(MAX_MAILING_BODY)] = Field(
        max_length=MAX_MAILING_BODY, description="Markdown; an unsubscribe link is added to every mail")
    months: int | None = Field(None, ge=1, le=MAX_MONTHS, description="recent_users only")


class ConfirmIn(Strict):
    recipients: int = Field(ge=0, description="the recipient count of the prepared mailing, quoted back")


class PageQuery(Strict):
    limit: int = Field(20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=1024)] | None = None


class TokenQuery(Strict):
    token: Annotated[str, StringConstraints(min_length=3, max_length=800)]


class PageTokenQuery(TokenQuery):
    confirm: Literal["yes"] | None = Field(None, description="yes: unsubscribe (the page's button sends it)")


class ProgressOut(BaseModel):
    total: int
    pending: int
    sent: int
    skipped: int = Field(description="unsubscribed before their turn")
    failed: int = Field(description="refused by SES: retried by a resume")
    uncertain: int = Field(description="claimed, send outcome unknown (crash): never retried, so never mailed twice")


class MailingOut(BaseModel):
    mailing_id: str
    kind: Literal["newsletter", "recent_users"]
    subject: str
    status: Literal["preparing", "prepared", "sending", "failed", "done", "cancelled"]
    months: int | None
    recipients: int | None
    created_at: datetime
    confirmed_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    rate_per_second: float
    progress: ProgressOut | None = None
    next_step: str | None = None


class MailingList(BaseModel):
    mailings: list[MailingOut]
    next_cursor: str | None = None


class UnsubscribeOut(BaseModel):
    email: str = Field(description="masked")
    unsubscribed: bool


def progress_out(p: Progress) -> ProgressOut:
    c = p.counts
    return ProgressOut(total=p.total, pending=c["pending"], sent=c["sent"], skipped=c["skipped"], failed=c["failed"],
                       uncertain=c["claimed"])


_NEXT = {
    "preparing": "wait: the recipients are being listed",
    "prepared": "check the count, then POST .../confirm with {\"recipients\": <count>}",
    "sending": "sending at a bounded rate; GET this mailing for progress",
    "failed": "fix the cause (last_error), then POST .../resume",
}


def mailing_out(m: Mailing, rate: float, progress: Progress | None = None) -> MailingOut:
    return MailingOut(
        mailing_id=m.mailing_id, kind=m.kind, subject=m.subject, status=m.status, months=m.months,
        recipients=m.recipients, created_at=m.created_at, confirmed_at=m.confirmed_at, finished_at=m.finished_at,
        last_error=m.last_error, rate_per_second=rate,
        progress=progress_out(progress) if progress is not None else None, next_step=_NEXT.get(m.status),
    )


@endpoint(mailings_bp, "POST", "/v1/operator/mailings", summary="Prepare a mailing (step 1 of 2)", tags=TAGS,
          body=MailingIn, response=MailingOut, status=202, permission=PlatformPermission.MAILING_SEND,
          rules={"months": "given with kind recent_users only"})
def prepare(principal: Principal, body: MailingIn, *, mailing=Service("mailing")):
    return mailing_out(mailing.prepare(principal, kind=body.kind, subject=body.subject, body=body.body,
                                       months=body.months), mailing.rate)


@endpoint(mailings_bp, "GET", "/v1/operator/mailings", summary="Mailings, newest first", tags=TAGS,
          query=PageQuery, response=MailingList, permission=PlatformPermission.MAILING_SEND,
          rules={"cursor": "a next_cursor this route returned (else 422)"})
def list_mailings(query: PageQuery, *, mailing=Service("mailing")):
    mailings, cursor = mailing.list(limit=query.limit, cursor=query.cursor)
    return MailingList(mailings=[mailing_out(m, mailing.rate) for m in mailings], next_cursor=cursor)


@endpoint(mailings_bp, "GET", "/v1/operator/mailings/{mailing_id}", summary="A mailing and its progress",
          tags=TAGS, response=MailingOut, permission=PlatformPermission.MAILING_SEND, errors=(404,))
def get_mailing(mailing_id: str, *, mailing=Service("mailing")):
    return mailing_out(mailing.get(mailing_id), mailing.rate, mailing.progress(mailing_id))


@endpoint(mailings_bp, "POST", "/v1/operator/mailings/{mailing_id}/confirm",
          summary="Confirm a prepared mailing and start sending (step 2 of 2)", tags=TAGS, body=ConfirmIn,
          response=MailingOut, status=202, permission=PlatformPermission.MAILING_SEND, errors=(404, 409))
def confirm(mailing_id: str, principal: Principal, body: ConfirmIn, *, mailing=Service("mailing")):
    return mailing_out(mailing.confirm(principal, mailing_id, body.recipients), mailing.rate)


@endpoint(mailings_bp, "POST", "/v1/operator/mailings/{mailing_id}/resume",
          summary="Resume a failed or stalled mailing (nobody is mailed twice)", tags=TAGS, response=MailingOut,
          status=202, permission=PlatformPermission.MAILING_SEND, errors=(404, 409))
def resume(mailing_id: str, principal: Principal, *, mailing=Service("mailing")):
    return mailing_out(mailing.resume(principal, mailing_id), mailing.rate)


@endpoint(mailings_bp, "POST", "/v1/operator/mailings/{mailing_id}/cancel", summary="Cancel a mailing",
          tags=TAGS, response=MailingOut, permission=PlatformPermission.MAILING_SEND, errors=(404, 409))
def cancel(mailing_id: str, principal: Principal, *, mailing=Service("mailing")):
    return mailing_out(mailing.cancel(principal, mailing_id), mailing.rate)


UNSUBSCRIBE_RULES = {"token": "the signed token of a mailing's unsubscribe link, as mailed"}


# ---- public: the link in every mailing -------------------------------------------------------------
@endpoint(mailings_bp, "GET", "/v1/unsubscribe",
          summary="The page behind a mailing's unsubscribe link: shows a button; with confirm=yes, unsubscribes",
          tags=TAGS, query=PageTokenQuery, public=True, content_type="text/html", rules=UNSUBSCRIBE_RULES)
def unsubscribe_page(query: PageTokenQuery, *, mailing=Service("mailing")):
    # Opening the link changes nothing (mail scanners follow links); the button does.
    status = mailing.unsubscribe(query.token) if query.confirm == "yes" else mailing.unsubscribe_status(query.token)
    if status["unsubscribed"]:
        inner = f"<p>{escape(status['email'])} is unsubscribed from Scellé mailings.</p>"
    else:
        inner = (f"<p>Stop Scellé mailings to {escape(status['email'])}?</p>"
                 '<form method="get" action="/v1/unsubscribe">'
                 f'<input type="hidden" name="token" value="{escape(query.token, quote=True)}">'
                 '<input type="hidden" name="confirm" value="yes">'
                 '<button type="submit">Unsubscribe</button></form>')
    html = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>"
            f"<body>{inner}<p>Service mail (tickets, security) is not affected.</p></body></html>")
    return Response(body=html, status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Security-Policy": "default-src 'none'; form-action 'self'"})


@endpoint(mailings_bp, "POST", "/v1/unsubscribe",
          summary="Unsubscribe from mailings (for apps; JSON or no body, which is ignored)", tags=TAGS,
          query=TokenQuery, response=UnsubscribeOut, public=True, rules=UNSUBSCRIBE_RULES)
def unsubscribe(query: TokenQuery, *, mailing=Service("mailing")):
    return UnsubscribeOut(**mailing.unsubscribe(query.token))
