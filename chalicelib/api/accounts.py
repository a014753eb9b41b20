"""Accounts: sign-up, email verification, sign-in / refresh / sign-out, the caller's profile, and
the local-only mail outbox."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, Field, StringConstraints

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import Email
from chalicelib.api.schemas import StrictModel as Strict
from chalicelib.domain.accounts import MAX_DISPLAY_NAME, RESET_CODE_PATTERN, PasswordPolicy
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identity import Principal
from chalicelib.services.accounts import SignUp
from chalicelib.wiring import Service

accounts_bp = Blueprint(__name__)
TAGS = ("accounts",)
PASSWORD_RULE = f"{PasswordPolicy().describe()}, printable characters only"
COMPANY_RULES = {
    "company_number": "a real number: BE enterprise numbers carry mod-97 check digits, a SIREN a Luhn check digit; "
                      "a company number already signed up is a 409",
    "vat_number": "a real VAT number (BE mod-97, FR key) of the same company as company_number",
}

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=64)]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]
# Checked again by ``domain.accounts.parse_display_name`` (white space, control characters).
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DISPLAY_NAME)]
DISPLAY_NAME_RULE = "no control or invisible formatting characters (Unicode category C)"
DISPLAY_NAME_HELP = (
    "the name sealed as seller / recorded_by / closed_by in what this person records, shown on "
    "receipts and in exports (the operateur column); default: the email address"
)


class AddressIn(Strict):
    line1: Text
    line2: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class SignUpIn(Strict):
    email: Email
    password: NewPassword = Field(description=PASSWORD_RULE)
    company_name: Text
    country: Literal["BE", "FR"]
    company_number: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="BE: enterprise number (0403.170.701, BE (0)403.170.701, 403170701); FR: SIREN (9 digits) "
                    "or SIRET, or for a Monegasque business the 9 digits of its VAT number (000 + 6 digits)"
    )
    vat_number: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="BE0403170701 (or BE (0)403.170.701) / FR44732829320 (Monaco: FR53000004605); must belong to "
                    "the company number"
    )
    address: AddressIn
    display_name: DisplayName | None = Field(None, description="the admin's display name: " + DISPLAY_NAME_HELP)


class SignUpOut(BaseModel):
    tenant_id: str
    user_id: str
    email: str
    display_name: str = Field(description="the admin's display name in this tenant (the email if none was given)")
    mode: Literal["test", "production"]
    verification_mail: Literal["sent", "failed"]
    next_step: str


class TokenIn(Strict):
    token: Secret


class EmailIn(Strict):
    email: Email


class VerifiedOut(BaseModel):
    email: str
    email_verified: bool


class AcceptedOut(BaseModel):
    status: str


class PasswordResetIn(Strict):
    email: Email


class PasswordResetConfirmIn(Strict):
    email: Email
    code: Annotated[str, StringConstraints(pattern=RESET_CODE_PATTERN)] = Field(
        description="the code mailed by POST /v1/password-reset (XXXX-XXXX-XXXX; case, dashes and spaces do not "
                    "matter)")
    new_password: NewPassword = Field(description=PASSWORD_RULE)


class SignInIn(Strict):
    email: Email
    password: Password


class RefreshIn(Strict):
    refresh_token: Secret


class TokensOut(BaseModel):
    access_token: str
    id_token: str
    refresh_token: str | None = None
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (a token type, not a secret)


class SignOutQuery(Strict):
    everywhere: bool = Field(False, description="also revoke every refresh token of this user")


class MembershipOut(BaseModel):
    tenant_id: str
    company_name: str | None = None
    country: str | None = None
    mode: str | None = None
    role: str
    status: str
    valid_until: datetime | None = None
    display_name: str = Field(description="the name sealed in what you record in this tenant")


class MeOut(BaseModel):
    user_id: str
    email: str
    display_name: str = Field(description="the profile name: the default display name of new memberships")
    email_verified: bool
    operator: bool
    memberships: list[MembershipOut]


class OutboxQuery(Strict):
    to: Email | None = None
    limit: int = Field(20, ge=1, le=200)


class OutboxMessage(BaseModel):
    id: str
    at: str
    to: str
    subject: str
    text: str


class OutboxOut(BaseModel):
    messages: list[OutboxMessage]


@endpoint(
    accounts_bp,
    "POST",
    "/v1/signup",
    summary="Sign up a company: its tenant (in test mode) and its admin",
    tags=TAGS,
    body=SignUpIn,
    response=SignUpOut,
    status=201,
    public=True,
    idempotent=True,
    errors=(409,),
    rules={"password": PASSWORD_RULE, **COMPANY_RULES, "display_name": DISPLAY_NAME_RULE,
           "address.postal_code": "BE: 4 digits, not starting with 0; FR: 5 digits"},
)
def signup(body: SignUpIn, request, *, accounts=Service("accounts"), idempotency=Service("idempotency")):
    def work() -> dict:
        a = body.address
        result = accounts.signup(
            SignUp(
                email=body.email,
                password=body.password,
                company_name=body.company_name,
                country=body.country,
                company_number=body.company_number,
                vat_number=body.vat_number,
                address_line1=a.line1,
                address_postal_code=a.postal_code,
                address_city=a.city,
                address_line2=a.line2,
                display_name=body.display_name,
            )
        )
        return SignUpOut(
            tenant_id=result.tenant.tenant_id,
            user_id=result.user.user_id,
            email=result.user.email,
            display_name=result.user.display_name or result.user.email,
            mode=result.tenant.mode,
            verification_mail="sent" if result.mail_sent else "failed",
            next_step="verify the email address with the mailed token: POST /v1/verify-email",
        ).model_dump(mode="json")

    # Scoped by the address; the password never enters the idempotency record (not even hashed).
    email = body.email.strip().lower()
    scope = "signup#" + hashlib.sha256(email.encode()).hexdigest()
    return idempotent(idempotency, request, scope, body.model_dump(mode="json", exclude={"password"}), work)


def idempotent(idempotency, request, scope: str, payload: dict, work):
    """Run ``work`` once per ``Idempotency-Key`` (when the client sends one) within ``scope``."""
    key = (request.headers or {}).get("idempotency-key")
    # An empty header is a key to refuse (422, as on every idempotent route), not "no key".
    return idempotency.run(scope, key, payload, work) if key is not None else work()


@endpoint(
    accounts_bp,
    "POST",
    "/v1/verify-email",
    summary="Verify an email address with the mailed token",
    tags=TAGS,
    body=TokenIn,
    response=VerifiedOut,
    public=True,
    rules={"token": "the token mailed by this API, unused and not expired"},
)
def verify_email(body: TokenIn, *, accounts=Service("accounts")):
    user = accounts.verify_email(body.token)
    return VerifiedOut(email=user.email, email_verified=user.email_verified)


@endpoint(
    accounts_bp,
    "POST",
    "/v1/verify-email/resend",
    summary="Mail a new verification token (answers the same whether or not the address is known)",
    tags=TAGS,
    body=EmailIn,
    response=AcceptedOut,
    status=202,
    public=True,
)
def resend_verification(body: EmailIn, *, accounts=Service("accounts")):
    accounts.resend_verification(body.email)
    return AcceptedOut(status="if this address has an unverified account, a new token has been mailed")


@endpoint(
    accounts_bp,
    "POST",
    "/v1/password-reset",
    summary="Mail a password reset code (answers the same whether or not the address has an account; "
    "throttled per address like sign-in)",
    tags=TAGS,
    body=PasswordResetIn,
    response=AcceptedOut,
    status=202,
    public=True,
)
def request_password_reset(body: PasswordResetIn, *, password_reset=Service("password_reset")):
    password_reset.request(body.email)
    return AcceptedOut(status="if this address has a verified account, a reset code valid 1 hour has been mailed")


@endpoint(
    accounts_bp,
    "POST",
    "/v1/password-reset/confirm",
    summary="Set a new password with the mailed reset code; every session of the account must sign in again",
    tags=TAGS,
    body=PasswordResetConfirmIn,
    status=204,
    public=True,
    rules={"code": "the code this API mailed to this address (POST /v1/password-reset), unused and less than "
                   "1 hour old; wrong codes count like failed sign-ins (429 once locked)",
           "new_password": PASSWORD_RULE},
)
def confirm_password_reset(body: PasswordResetConfirmIn, *, password_reset=Service("password_reset")):
    password_reset.confirm(body.email, body.code, body.new_password)
    return Response(body="", status_code=204)


def _tokens(tokens) -> TokensOut:
    return TokensOut(
        access_token=tokens.access_token,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        token_type=tokens.token_type,
    )


@endpoint(
    accounts_bp,
    "POST",
    "/v1/auth/signin",
    summary="Sign in with email and password; repeated failures slow down, then lock",
    tags=TAGS,
    body=SignInIn,
    response=TokensOut,
    public=True,
    errors=(401, 403),
)
def signin(body: SignInIn, *, signin=Service("signin")):
    return _tokens(signin.sign_in(body.email, body.password))


@endpoint(
    accounts_bp,
    "POST",
    "/v1/auth/refresh",
    summary="New access and id tokens from a refresh token",
    tags=TAGS,
    body=RefreshIn,
    response=TokensOut,
    public=True,
    errors=(401,),
)
def refresh(body: RefreshIn, *, signin=Service("signin")):
    return _tokens(signin.refresh(body.refresh_token))


@endpoint(
    accounts_bp,
    "POST",
    "/v1/auth/signout",
    summary="Sign this session out (its tokens stop working); ?everywhere=true also ends every other",
    tags=TAGS,
    query=SignOutQuery,
    status=204,
)
def signout(principal: Principal, query: SignOutQuery, request, *, signin=Service("signin")):
    token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
    signin.sign_out(principal, token, everywhere=query.everywhere)
    return Response(body="", status_code=204)


@endpoint(
    accounts_bp,
    "GET",
    "/v1/me",
    summary="The caller's account and tenant memberships",
    tags=TAGS,
    response=MeOut,
    errors=(404,),
)
def me(principal: Principal, *, accounts=Service("accounts")):
    user = accounts.me(principal)
    memberships = [
        MembershipOut(
            tenant_id=v.membership.tenant_id,
            role=str(v.membership.role),
            status=v.membership.status,
            valid_until=v.membership.valid_until,
            display_name=v.membership.name,
            company_name=v.tenant.company_name if v.tenant else None,
            country=v.tenant.country if v.tenant else None,
            mode=v.tenant.mode if v.tenant else None,
        )
        for v in accounts.memberships(principal)
    ]
    return MeOut(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name or user.email,
        email_verified=user.email_verified,
        operator=user.operator,
        memberships=memberships,
    )


@endpoint(
    accounts_bp,
    "GET",
    "/v1/local/outbox",
    summary="Local mode only: the mail the product sent (verification and invitation tokens); "
    "needs the local operator token",
    tags=("local",),
    query=OutboxQuery,
    response=OutboxOut,
    public=True,
    errors=(401, 404),
)
def local_outbox(query: OutboxQuery, request, *, settings=Service("settings")):
    from chalicelib.adapters.mail import read_outbox
    from chalicelib.api.local_access import refusal

    if not (settings.expose_outbox and settings.mode == "local"):
        raise NotFound("no such route")
    # Every tenant's mail, tokens included: only for whoever runs the local stack.
    refused = refusal(request, settings.data_dir)
    if refused is not None:
        return refused
    messages = read_outbox(settings.data_dir / "outbox.jsonl", to=query.to.lower() if query.to else None,
                           limit=query.limit)
    return OutboxOut(
        messages=[OutboxMessage(**{k: m.get(k, "") for k in OutboxMessage.model_fields}) for m in messages]
    )
