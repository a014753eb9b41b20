"""A tenant, its settings, its members and roles, invitations, auditor grants, go-live and the
event journal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, WithJsonSchema, model_validator

from chalicelib.api.accounts import (
    DISPLAY_NAME_HELP,
    DISPLAY_NAME_RULE,
    PASSWORD_RULE,
    DisplayName,
    NewPassword,
    idempotent,
)
from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import Email, SupportedInstant
from chalicelib.api.schemas import StrictModel as Strict
from chalicelib.domain.accounts import MAX_GRANT_DAYS, AuditorGrant, Invitation, Membership
from chalicelib.domain.calendar import TIME_ZONES, business_day_of
from chalicelib.domain.identity import Caller
from chalicelib.domain.permissions import Permission
from chalicelib.domain.tenant import MAX_WINDOWS_PER_DAY, WEEKDAYS, Tenant
from chalicelib.wiring import Service

members_bp = Blueprint(__name__)
TAGS = ("tenants",)

Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
MemberRole = Literal["admin", "accountant", "manager", "seller"]


class AddressOut(BaseModel):
    line1: str
    line2: str = ""
    postal_code: str
    city: str
    country: str


class TenantOut(BaseModel):
    tenant_id: str
    company_name: str
    country: str
    company_number: str
    vat_number: str
    address: AddressOut | None
    time_zone: str
    business_day_cutoff: str
    mode: Literal["test", "production"]
    training: bool = Field(description="true in test mode: every record is training data, never official")
    chain_mode: Literal["test", "prod"] = Field(description="the prefix of this tenant's chain names now")
    production_since: datetime | None = None
    created_at: datetime
    opening_hours: dict[str, list[str] | None] | None = Field(
        None, description="per weekday (mon..sun), local windows; null: not configured (see /settings)"
    )


def tenant_out(t: Tenant) -> TenantOut:
    a = t.address
    return TenantOut(
        tenant_id=t.tenant_id,
        company_name=t.company_name,
        country=t.country,
        company_number=t.company_number,
        vat_number=t.vat_number,
        address=AddressOut(line1=a.line1, line2=a.line2, postal_code=a.postal_code, city=a.city, country=a.country)
        if a
        else None,
        time_zone=t.time_zone,
        business_day_cutoff=t.business_day_cutoff.strftime("%H:%M"),
        mode=t.mode,
        training=t.training,
        chain_mode=t.chain_mode,
        production_since=t.production_since,
        created_at=t.created_at,
        opening_hours=t.opening_hours.to_json() if t.opening_hours else None,
    )


# The settings body is validated by ``domain.tenant.parse_settings_change`` (errors name the
# field, e.g. ``opening_hours.mon.0``); these schemas only describe it in the OpenAPI document.
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_WINDOWS = {
    "anyOf": [
        {"type": "array", "maxItems": MAX_WINDOWS_PER_DAY,
         "items": {"type": "string", "pattern": f"^{_TIME}-(?:{_TIME}|24:00)$"}},
        {"type": "null"},
    ]
}
_OPENING_HOURS = {
    "anyOf": [
        {
            "type": "object",
            "properties": dict.fromkeys(WEEKDAYS, _WINDOWS),
            "required": list(WEEKDAYS),
            "additionalProperties": False,
        },
        {"type": "null"},
    ],
    "description": 'per weekday, "HH:MM-HH:MM" windows in local time (24:00 ends a day), null for a closed '
    "day; null as a whole: not configured",
}


class SettingsIn(Strict):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    time_zone: Annotated[Any, WithJsonSchema({"type": "string", "enum": sorted(TIME_ZONES)})] = (
        Field(None, description="frozen once a period is closed (409)")
    )
    business_day_cutoff: Annotated[Any, WithJsonSchema({"type": "string", "pattern": "^(?:0[0-9]|1[01]):[0-5][0-9]$"})
                                   ] = Field(None, description='"HH:MM" before 12:00; frozen once a period is closed '
                                             "(409)")
    opening_hours: Annotated[Any, WithJsonSchema(_OPENING_HOURS)] = None


class SettingsOut(BaseModel):
    time_zone: str
    business_day_cutoff: str
    opening_hours: dict[str, list[str] | None] | None = Field(
        None, description="null: not configured (the after-hours anomaly rule then uses 06:00-22:00)"
    )
    business_day: date = Field(
        description="the tenant's business day now (its time zone, its cut-off): the latest day a journal entry's "
                    "piece_date or an export's to may name; before the cut-off it is still yesterday's")


def settings_out(t: Tenant, now: datetime) -> SettingsOut:
    return SettingsOut(**t.settings(), business_day=business_day_of(now, t.time_zone, t.business_day_cutoff))


def _closed_periods(ledger_index, chain_directory, tenant_id: str):
    """The tenant's closures, chain by chain, as ``(chain, kind, period)`` (read lazily)."""
    for chain in chain_directory.chains(tenant_id):
        for kind, period, _ in ledger_index.closures(tenant_id, chain):
            yield chain, kind, period


class MemberOut(BaseModel):
    user_id: str
    email: str
    display_name: str = Field(description=DISPLAY_NAME_HELP)
    role: str
    status: str
    joined_at: datetime | None = None
    valid_until: datetime | None = None
    grant_id: str | None = None


def member_out(m: Membership) -> MemberOut:
    now = datetime.now(UTC)
    status = "expired" if m.status == "active" and not m.is_active(now) else m.status
    return MemberOut(
        user_id=m.user_id,
        email=m.email,
        display_name=m.name,
        role=str(m.role),
        status=status,
        joined_at=m.joined_at,
        valid_until=m.valid_until,
        grant_id=m.grant_id,
    )


class InvitationOut(BaseModel):
    invitation_id: str
    email: str
    display_name: str | None = Field(None, description="the name proposed to the invitee, if any")
    role: str
    status: str
    expires_at: datetime
    invited_by: str


def invitation_out(i: Invitation) -> InvitationOut:
    status = "expired" if i.status == "pending" and datetime.now(UTC) >= i.expires_at else i.status
    return InvitationOut(
        invitation_id=i.invitation_id,
        email=i.email,
        display_name=i.display_name or None,
        role=str(i.role),
        status=status,
        expires_at=i.expires_at,
        invited_by=i.invited_by,
    )


class RosterOut(BaseModel):
    members: list[MemberOut]
    invitations: list[InvitationOut]


class MemberUpdate(Strict):
    role: MemberRole | None = None
    disabled: StrictBool | None = None
    display_name: DisplayName | None = Field(
        None, description=DISPLAY_NAME_HELP + "; changes what is recorded from now on, never a sealed entry"
    )

    @model_validator(mode="after")
    def _something(self) -> MemberUpdate:
        if self.role is None and self.disabled is None and self.display_name is None:
            raise ValueError("give a role, disabled, a display_name, or several of them")
        return self


class InvitationIn(Strict):
    email: Email
    role: MemberRole
    display_name: DisplayName | None = Field(
        None, description=DISPLAY_NAME_HELP + "; the invitee may choose another when accepting"
    )


class AcceptIn(Strict):
    token: Secret
    password: NewPassword | None = Field(
        None, description="only when this email address has no Scellé account yet: " + PASSWORD_RULE
    )
    display_name: DisplayName | None = Field(
        None,
        description="your name sealed in what you record in this tenant, shown on receipts and in exports; "
        "default: the invitation's, else your account's profile name, else your email address",
    )


class AcceptOut(BaseModel):
    tenant_id: str
    user_id: str
    email: str
    display_name: str = Field(description="your display name in this tenant")
    role: str
    account: Literal["created", "existing"]
    valid_until: datetime | None = None


class GrantIn(Strict):
    email: Email
    days: int = Field(ge=1, le=MAX_GRANT_DAYS, description="read-only access ends by itself after this many days")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = Field(
        "", description="e.g. the tax office and case reference"
    )


class GrantOut(BaseModel):
    grant_id: str
    email: str
    status: Literal["pending", "active", "revoked", "expired"]
    valid_until: datetime
    granted_by: str
    created_at: datetime
    user_id: str | None = None
    note: str = ""


def grant_out(g: AuditorGrant) -> GrantOut:
    return GrantOut(
        grant_id=g.grant_id,
        email=g.email,
        status=g.effective_status(datetime.now(UTC)),
        valid_until=g.valid_until,
        granted_by=g.granted_by,
        created_at=g.created_at,
        user_id=g.user_id,
        note=g.note,
    )


class GrantList(BaseModel):
    grants: list[GrantOut]


class GoLiveIn(Strict):
    confirm: Literal[True] = Field(description="true: going to production is irreversible")


class EventsQuery(Strict):
    start: SupportedInstant | None = Field(None, description="RFC 3339 with an offset; default 30 days ago")
    end: SupportedInstant | None = Field(None, description="RFC 3339 with an offset; default now")
    limit: int = Field(100, ge=1, le=1000)
    cursor: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")] | None = Field(
        None, description="the next_cursor of the previous page"
    )


class EventOut(BaseModel):
    seq: int
    recorded_at: str
    kind: str
    actor: str | None
    details: dict[str, Any]
    training: bool
    hash: str


class EventList(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = None


# ---- routes ---------------------------------------------------------------------------------
@endpoint(
    members_bp,
    "GET",
    "/v1/tenants/{tenant_id}",
    summary="The tenant: company data, mode, time zone",
    tags=TAGS,
    response=TenantOut,
    permission=Permission.TENANT_READ,
)
def get_tenant(tenant_id: str, *, tenants=Service("tenants")):
    return tenant_out(tenants.get(tenant_id))


@endpoint(
    members_bp,
    "GET",
    "/v1/tenants/{tenant_id}/settings",
    summary="The tenant's settings: time zone, business-day cut-off, opening hours",
    tags=TAGS,
    response=SettingsOut,
    permission=Permission.TENANT_READ,
)
def get_settings(tenant_id: str, *, tenants=Service("tenants"), clock=Service("clock")):
    return settings_out(tenants.get(tenant_id), clock())


@endpoint(
    members_bp,
    "PUT",
    "/v1/tenants/{tenant_id}/settings",
    summary="Change the settings given (time zone and cut-off only until a period is closed); journaled",
    tags=TAGS,
    body=SettingsIn,
    response=SettingsOut,
    permission=Permission.TENANT_CONFIGURE,
    errors=(409,),
    rules={"opening_hours": "each day's windows in order, not overlapping, each ending after it starts"},
)
def put_settings(tenant_id: str, caller: Caller, body: SettingsIn, *, tenants=Service("tenants"),
                 ledger_index=Service("ledger_index"), chain_directory=Service("chain_directory"),
                 clock=Service("clock")):
    change = body.model_dump(exclude_unset=True)
    return settings_out(tenants.configure(
        caller, change, closed_periods=lambda tenant: _closed_periods(ledger_index, chain_directory, tenant)), clock())


@endpoint(
    members_bp,
    "GET",
    "/v1/tenants/{tenant_id}/members",
    summary="Members and pending invitations",
    tags=TAGS,
    response=RosterOut,
    permission=Permission.MEMBERS_READ,
)
def list_members(tenant_id: str, *, accounts=Service("accounts")):
    roster = accounts.roster(tenant_id)
    return RosterOut(
        members=[member_out(m) for m in sorted(roster.members, key=lambda m: (m.joined_at or datetime.min, m.email))],
        invitations=[
            invitation_out(i) for i in sorted(roster.invitations, key=lambda i: i.created_at) if i.status == "pending"
        ],
    )


@endpoint(
    members_bp,
    "PUT",
    "/v1/tenants/{tenant_id}/members/{user_id}",
    summary="Change a member's role or display name, or disable / re-enable it (a tenant keeps one active admin)",
    tags=TAGS,
    body=MemberUpdate,
    response=MemberOut,
    permission=Permission.MEMBERS_MANAGE,
    errors=(409,),
    rules={"body": "at least one of role, disabled, display_name, not null", "display_name": DISPLAY_NAME_RULE},
)
def update_member(tenant_id: str, user_id: str, caller: Caller, body: MemberUpdate, *,
                  accounts=Service("accounts")):
    return member_out(
        accounts.update_member(caller, user_id, body.role, body.disabled, body.display_name)
    )


@endpoint(
    members_bp,
    "POST",
    "/v1/tenants/{tenant_id}/invitations",
    summary="Invite someone by email with a role; the mailed token joins them",
    tags=TAGS,
    body=InvitationIn,
    response=InvitationOut,
    status=201,
    permission=Permission.MEMBERS_MANAGE,
    idempotent=True,
    errors=(409,),
    rules={"display_name": DISPLAY_NAME_RULE},
)
def invite(tenant_id: str, caller: Caller, body: InvitationIn, request, *, accounts=Service("accounts"),
           idempotency=Service("idempotency")):
    def work() -> dict:
        invitation = accounts.invite(caller, body.email, body.role, body.display_name).invitation
        return invitation_out(invitation).model_dump(mode="json")

    return idempotent(idempotency, request, f"{tenant_id}#{caller.user_id}#invitations", body.model_dump(mode="json"),
                      work)


@endpoint(
    members_bp,
    "POST",
    "/v1/invitations/accept",
    summary="Accept an invitation or auditor grant with its mailed token (creates the account if needed)",
    tags=TAGS,
    body=AcceptIn,
    response=AcceptOut,
    public=True,
    errors=(409,),
    rules={"token": "the token mailed by this API for an invitation or grant, unused and not expired",
           "password": "required when the address has no account yet, refused otherwise; " + PASSWORD_RULE,
           "display_name": DISPLAY_NAME_RULE},
)
def accept_invitation(body: AcceptIn, *, accounts=Service("accounts")):
    accepted = accounts.accept_invitation(body.token, body.password, body.display_name)
    m = accepted.membership
    return AcceptOut(
        tenant_id=m.tenant_id,
        user_id=m.user_id,
        email=m.email,
        display_name=m.name,
        role=str(m.role),
        account="created" if accepted.account_created else "existing",
        valid_until=m.valid_until,
    )


@endpoint(
    members_bp,
    "GET",
    "/v1/tenants/{tenant_id}/auditor-grants",
    summary="Auditor grants, newest first",
    tags=TAGS,
    response=GrantList,
    permission=Permission.AUDITOR_GRANT,
)
def list_grants(tenant_id: str, *, accounts=Service("accounts")):
    return GrantList(grants=[grant_out(g) for g in accounts.grants(tenant_id)])


@endpoint(
    members_bp,
    "POST",
    "/v1/tenants/{tenant_id}/auditor-grants",
    summary="Grant a tax official read-only access for a number of days (mailed; revocable)",
    tags=TAGS,
    body=GrantIn,
    response=GrantOut,
    status=201,
    permission=Permission.AUDITOR_GRANT,
    idempotent=True,
    errors=(409,),
)
def grant_auditor(tenant_id: str, caller: Caller, body: GrantIn, request, *, accounts=Service("accounts"),
                  idempotency=Service("idempotency")):
    def work() -> dict:
        result = accounts.grant_auditor(caller, body.email, body.days, body.note)
        assert result.grant is not None
        return grant_out(result.grant).model_dump(mode="json")

    return idempotent(idempotency, request, f"{tenant_id}#{caller.user_id}#auditor-grants",
                      body.model_dump(mode="json"), work)


@endpoint(
    members_bp,
    "DELETE",
    "/v1/tenants/{tenant_id}/auditor-grants/{grant_id}",
    summary="Revoke an auditor grant now",
    tags=TAGS,
    response=GrantOut,
    permission=Permission.AUDITOR_GRANT,
    errors=(409,),
)
def revoke_grant(tenant_id: str, grant_id: str, caller: Caller, *, accounts=Service("accounts")):
    return grant_out(accounts.revoke_grant(caller, grant_id))


@endpoint(
    members_bp,
    "POST",
    "/v1/tenants/{tenant_id}/go-live",
    summary="Leave test mode for production, irreversibly; production chains start from genesis",
    tags=TAGS,
    body=GoLiveIn,
    response=TenantOut,
    permission=Permission.TENANT_GO_LIVE,
    errors=(409,),
)
def go_live(tenant_id: str, caller: Caller, body: GoLiveIn, *, tenants=Service("tenants")):
    return tenant_out(tenants.go_live(caller))


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@endpoint(
    members_bp,
    "GET",
    "/v1/tenants/{tenant_id}/events",
    summary="The tenant's event journal (sign-ins, members, grants, go-live, ...), oldest first",
    tags=TAGS,
    query=EventsQuery,
    response=EventList,
    permission=Permission.EVENTS_READ,
    rules={"start": "before end (end defaults to now, start to 30 days before end)"},
)
def list_events(tenant_id: str, query: EventsQuery, *, event_journal=Service("event_journal")):
    from chalicelib.domain.errors import ValidationFailed

    now = datetime.now(UTC)
    end = query.end or now + timedelta(seconds=1)
    start = query.start or end - timedelta(days=30)
    if start >= end:
        raise ValidationFailed("start must be before end", field="start")
    after = int(query.cursor) if query.cursor else None
    records = event_journal.list(
        tenant_id, start=_ts(start), end=_ts(end), limit=query.limit + 1, after_seq=after
    )
    page = records[: query.limit]
    events = [
        EventOut(
            seq=r.seq,
            recorded_at=r.recorded_at,
            kind=r.data.get("kind", ""),
            actor=r.data.get("actor"),
            details=dict(r.data.get("details") or {}),
            training=r.training,
            hash=r.hash,
        )
        for r in page
    ]
    return EventList(events=events, next_cursor=str(page[-1].seq) if len(records) > query.limit else None)
