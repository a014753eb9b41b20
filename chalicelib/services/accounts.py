"""Accounts: sign-up, email verification, invitations, members and roles, auditor grants.

Rules that live here (each has a test):

* Sign-up validates everything before writing anything; duplicates are 409s naming the field.
  The pool user is created first, then one transaction writes tenant + user + email + company +
  admin membership + verification token; if that fails, the pool user is deleted again.
* Email verification is the product's own single-use, expiring token; then the pool user is
  confirmed (until then Cognito refuses the sign-in).
* Invitations carry a role (admin, accountant, manager, seller) or an auditor grant (read-only,
  until a date, revocable); accepting one proves control of the mailbox.
* A tenant always keeps one active admin (a counter on the tenant item guards it in the same
  transaction as the change, so two admins demoting each other cannot leave none).
* Platform operators are never tenant members.
* Every member has a display name in the tenant (``Membership.name``): the one given at sign-up,
  on the invitation or when accepting it (the invitee's wins), else the account's profile name,
  else the email address; an admin may change it. It is what the ledger seals as ``seller``,
  ``recorded_by`` and ``closed_by`` (the access check hands it to the ``Caller``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from chalicelib.domain import identifiers
from chalicelib.domain.accounts import (
    INVITABLE_ROLES,
    INVITATION_TTL,
    MAX_GRANT_DAYS,
    VERIFY_EMAIL_TTL,
    AuditorGrant,
    Invitation,
    Membership,
    OneTimeToken,
    PasswordPolicy,
    User,
    hash_token,
    new_id,
    normalise_email,
    optional_display_name,
    parse_display_name,
    utc_now,
)
from chalicelib.domain.company import check_company_identifiers
from chalicelib.domain.errors import Conflict, Findings, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Role
from chalicelib.domain.tenant import Address, Tenant
from chalicelib.observability import logger
from chalicelib.ports.accounts import (
    AccountsStore,
    EventJournal,
    IdentityProvider,
    Mailer,
    TenantRoster,
)

_POSTAL_CODE = {"BE": re.compile(r"^[1-9]\d{3}$"), "FR": re.compile(r"^\d{5}$")}
ORPHAN_AGE = timedelta(minutes=10)  # a pool user without records, older than this, is debris


def _now() -> datetime:
    return utc_now()


def _refuse(detail: str, field: str) -> None:
    raise ValidationFailed(detail, field=field)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SignUp:
    email: str
    password: str
    company_name: str
    country: str
    company_number: str
    vat_number: str
    address_line1: str
    address_postal_code: str
    address_city: str
    address_line2: str = ""
    display_name: str | None = None  # the admin's name in receipts and exports; default: the email


@dataclass(frozen=True)
class SignUpResult:
    tenant: Tenant
    user: User
    verification_token: str  # the mailed secret; never part of an HTTP answer
    mail_sent: bool


@dataclass(frozen=True)
class InvitationResult:
    invitation: Invitation
    token: str  # the mailed secret; never part of an HTTP answer
    grant: AuditorGrant | None = None


@dataclass(frozen=True)
class Accepted:
    membership: Membership
    account_created: bool


@dataclass(frozen=True)
class MembershipView:
    membership: Membership
    tenant: Tenant | None


@dataclass(frozen=True)
class OperatorAdded:
    user: User
    outcome: Literal["created", "flagged", "already"]
    password: str | None = None  # "created" only: generated, shown once, stored nowhere by us


class AccountsService:
    def __init__(
        self,
        store: AccountsStore,
        identity: IdentityProvider,
        mailer: Mailer,
        journal: Callable[[], EventJournal],
        *,
        public_base_url: str = "http://127.0.0.1:8000",
        password_policy: PasswordPolicy | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._identity = identity
        self._mailer = mailer
        self._journal = journal
        self._base = public_base_url.rstrip("/")
        self.password_policy = password_policy or PasswordPolicy()
        self._clock = clock

    # ---- sign-up --------------------------------------------------------------------------
    def validate_signup(self, cmd: SignUp) -> tuple[str, Tenant]:
        """The canonical email and the tenant to create; raises ValidationFailed naming the field
        (the first; every field at fault is listed, ``ValidationFailed.problems()``)."""
        found = Findings()
        email = found.check(normalise_email, cmd.email)
        found.check(self.password_policy.check, cmd.password)
        found.check(optional_display_name, cmd.display_name)
        company_name = " ".join(cmd.company_name.split())
        if not company_name:
            found.check(_refuse, "The company name must not be empty.", "company_name")
        country = cmd.country
        if country not in identifiers.COUNTRIES:
            found.check(_refuse, f"The country must be BE or FR; got {country!r}.", "country")
            found.raise_if_any()
        checked = check_company_identifiers(country, cmd.company_number, cmd.vat_number)
        found.found.extend(checked.problems)  # the same rules as POST /v1/checks/company
        number, vat = checked.company_number, checked.vat_number
        postal = cmd.address_postal_code.strip()
        if not _POSTAL_CODE[country].match(postal):
            digits = 4 if country == "BE" else 5
            found.check(_refuse, f"A postal code in {country} has {digits} digits; got {postal!r}.",
                        "address.postal_code")
        for name, value in (("address.line1", cmd.address_line1), ("address.city", cmd.address_city)):
            if not value.strip():
                found.check(_refuse, "Must not be empty.", name)
        found.raise_if_any()
        assert email is not None and number is not None and vat is not None
        address = Address(
            cmd.address_line1.strip(), postal, cmd.address_city.strip(), country, cmd.address_line2.strip()
        )
        tenant = Tenant(new_id("t"), company_name, country, number, vat, address, created_at=self._clock())
        return email, tenant

    def signup(self, cmd: SignUp) -> SignUpResult:
        email, tenant = self.validate_signup(cmd)
        if self._store.user_id_for_email(email):
            raise Conflict("an account with this email address already exists", field="email")
        if self._store.tenant_for_company(tenant.country, tenant.company_number):
            raise Conflict("a tenant with this company number already exists", field="company_number")
        name = optional_display_name(cmd.display_name)
        user_id = self._pool_sign_up(email, cmd.password)
        now = self._clock()
        user = User(user_id, email, email_verified=False, created_at=now, display_name=name)
        admin = Membership(tenant.tenant_id, user_id, email, Role.ADMIN, "active", now, display_name=name)
        secret, token = OneTimeToken.issue("verify_email", now, VERIFY_EMAIL_TTL, user_id=user_id)
        try:
            self._store.create_signup(tenant, user, admin, token)
        except Exception as exc:
            self._forget_pool_user(user_id)
            if isinstance(exc, Conflict) and exc.field == "email":
                raise Conflict("an account with this email address already exists", field="email") from exc
            if isinstance(exc, Conflict) and exc.field == "company_number":
                raise Conflict("a tenant with this company number already exists", field="company_number") from exc
            raise
        # Mail first: the account exists now, so its owner must get the token even if recording fails.
        sent = self._send_quietly(email, "Verify your email address for Scellé", self._verification_text(secret))
        self._record(
            tenant,
            "signup",
            actor=user_id,
            details={
                "user_id": user_id,
                "email": email,
                "company_number": tenant.company_number,
                "country": tenant.country,
                "display_name": name,
            },
        )
        return SignUpResult(tenant, user, secret, sent)

    def _pool_sign_up(self, email: str, password: str) -> str:
        try:
            return self._identity.sign_up(email, password)
        except Conflict:
            # A pool user with no records: debris of a sign-up that died between the pool and the
            # table (and whose clean-up failed too). Reclaim it once it is old enough not to be a
            # sign-up still in flight.
            since = self._identity.pool_user_since(email)
            if since is None or self._clock() - since < ORPHAN_AGE or self._store.user_id_for_email(email):
                raise
            logger.warning("reclaiming an orphan pool user", extra={"pool_user_created": _iso(since)})
            self._identity.delete(email)
            return self._identity.sign_up(email, password)

    def _forget_pool_user(self, user_id: str) -> None:
        try:
            self._identity.delete(user_id)
        except Exception:  # the orphan is reclaimed by a later sign-up with this email
            logger.exception("could not delete the pool user of a failed sign-up", extra={"user_id": user_id})

    # ---- email verification ---------------------------------------------------------------
    def _usable_token(self, secret: str, purpose: str) -> OneTimeToken:
        token = self._store.get_token(hash_token(secret)) if secret else None
        if token is None or token.purpose != purpose:
            raise ValidationFailed("This token is unknown.", field="token")
        if token.used_at is not None:
            raise ValidationFailed("This token has already been used.", field="token")
        if self._clock() >= token.expires_at:
            hint = (
                "ask for a new one (POST /v1/verify-email/resend)"
                if purpose == "verify_email"
                else "ask the tenant's admin for a new invitation"
            )
            raise ValidationFailed(f"This token has expired; {hint}.", field="token")
        return token

    def verify_email(self, secret: str) -> User:
        token = self._usable_token(secret, "verify_email")
        user = self._store.get_user(token.user_id or "")
        if user is None:
            raise ValidationFailed("This token is unknown.", field="token")
        self._identity.confirm(user.user_id)
        try:
            self._store.verify_email(token, self._clock())
        except Conflict as exc:
            raise ValidationFailed("This token has already been used.", field="token") from exc
        for view in self.memberships(Principal(user.user_id, user.email)):
            if view.tenant is not None:
                self._record(
                    view.tenant,
                    "email_verified",
                    actor=user.user_id,
                    details={"user_id": user.user_id, "email": user.email},
                )
        return replace(user, email_verified=True)

    def resend_verification(self, email: str) -> str | None:
        """Mail a new token if this address has an unverified account. Says nothing either way."""
        email = normalise_email(email)
        user_id = self._store.user_id_for_email(email)
        user = self._store.get_user(user_id) if user_id else None
        if user is None or user.email_verified:
            return None
        secret, token = OneTimeToken.issue("verify_email", self._clock(), VERIFY_EMAIL_TTL, user_id=user.user_id)
        self._store.put_token(token)
        self._send_quietly(email, "Verify your email address for Scellé", self._verification_text(secret))
        return secret

    def console_link(self, route: str, secret: str) -> str:
        """The web console's page for a mailed token: ``verify`` (email verification) or ``accept``
        (an invitation or auditor grant), e.g. ``<public_base_url>/#/verify?token=<token>``."""
        return f"{self._base}/#/{route}?token={quote(secret, safe='')}"

    def _verification_text(self, secret: str) -> str:
        return (
            "Welcome to Scellé.\n\n"
            "To verify your email address, open this link (usable once, valid 24 hours):\n\n"
            f"  {self.console_link('verify', secret)}\n\n"
            "Or send this token to the API:\n\n"
            f"token: {secret}\n\n"
            f"  curl -X POST {self._base}/v1/verify-email -H 'Content-Type: application/json' "
            f'-d \'{{"token": "{secret}"}}\'\n\n'
            "If you did not sign up for Scellé, ignore this message.\n"
        )

    # ---- invitations ----------------------------------------------------------------------
    def invite(
        self, caller: Caller, email: str, role: Role | str, display_name: str | None = None
    ) -> InvitationResult:
        role = Role(role)
        if role not in INVITABLE_ROLES:
            raise ValidationFailed(
                "Auditors are invited through auditor grants (POST /v1/tenants/{tenant_id}/auditor-grants).",
                field="role",
            )
        email = normalise_email(email)
        name = optional_display_name(display_name)
        tenant = self._tenant(caller.tenant_id)
        self._refuse_existing_member(tenant.tenant_id, email)
        now = self._clock()
        invitation = Invitation(
            new_id("i"),
            tenant.tenant_id,
            email,
            role,
            caller.user_id,
            now,
            now + INVITATION_TTL,
            display_name=name,
        )
        secret, token = OneTimeToken.issue(
            "invitation",
            now,
            INVITATION_TTL,
            tenant_id=tenant.tenant_id,
            invitation_id=invitation.invitation_id,
        )
        self._store.create_invitation(invitation, token, None)
        self._record(
            tenant,
            "invitation_sent",
            actor=caller.user_id,
            details={
                "invitation_id": invitation.invitation_id,
                "email": email,
                "role": str(role),
                "display_name": name,
            },
        )
        self._send_quietly(
            email,
            f"You are invited to {tenant.company_name} on Scellé",
            self._invitation_text(tenant, f"as {role}", secret, invitation.expires_at),
        )
        return InvitationResult(invitation, secret)

    def _refuse_existing_member(self, tenant_id: str, email: str) -> None:
        user_id = self._store.user_id_for_email(email)
        if not user_id:
            return
        user, member = self._store.get_access(tenant_id, user_id)
        if user is not None and user.operator:
            raise ValidationFailed("Platform operators cannot be members of a tenant.", field="email")
        if member is not None and member.is_active(self._clock()):
            raise Conflict(f"{email} is already a member of this tenant (role {member.role})", field="email")

    def _invitation_text(self, tenant: Tenant, what: str, secret: str, expires: datetime) -> str:
        return (
            f"You are invited to join {tenant.company_name} ({tenant.country} {tenant.company_number}) "
            f"on Scellé {what}.\n\n"
            f"To accept, open this link (usable once, valid until {_iso(expires)}):\n\n"
            f"  {self.console_link('accept', secret)}\n\n"
            "Or send this token to the API:\n\n"
            f"token: {secret}\n\n"
            f"  curl -X POST {self._base}/v1/invitations/accept -H 'Content-Type: application/json' "
            f'-d \'{{"token": "{secret}", "password": "<a new password>"}}\'\n\n'
            "Leave the password out if you already have a Scellé account with this email address.\n"
            'Add "display_name": "<your name>" to choose the name shown on the receipts and in the exports '
            "of what you record (by default: the name on this invitation, else your email address).\n"
        )

    def accept_invitation(self, secret: str, password: str | None, display_name: str | None = None) -> Accepted:
        """Join the tenant. The member's display name: ``display_name`` if given, else the one on
        the invitation, else the account's profile name, else (empty) the email address."""
        chosen = optional_display_name(display_name)
        token = self._usable_token(secret, "invitation")
        invitation = self._store.get_invitation(token.tenant_id or "", token.invitation_id or "")
        if invitation is None or invitation.status != "pending":
            raise ValidationFailed("This invitation is no longer valid.", field="token")
        now = self._clock()
        grant = None
        if invitation.grant_id:
            grant = self._store.get_grant(invitation.tenant_id, invitation.grant_id)
            if grant is None or grant.effective_status(now) != "pending":
                raise ValidationFailed("This auditor grant has been revoked or has expired.", field="token")
        user_id = self._store.user_id_for_email(invitation.email)
        new_user = None
        name = chosen or invitation.display_name
        if user_id:
            user = self._store.get_user(user_id)
            if user is None or user.operator:
                raise Forbidden("platform operators cannot be members of a tenant", field="token")
            if not user.email_verified:
                raise ValidationFailed(
                    "This address has an account whose email is not verified yet: verify it "
                    "first (POST /v1/verify-email/resend), then accept.",
                    field="token",
                )
            name = name or user.display_name
        else:
            if not password:
                raise ValidationFailed(
                    f"Choose a password for your new account ({self.password_policy.describe()}).",
                    field="password",
                )
            self.password_policy.check(password)
            user_id = self._pool_sign_up(invitation.email, password)
            new_user = User(user_id, invitation.email, email_verified=True, created_at=now, display_name=name)
        membership = Membership(
            invitation.tenant_id,
            user_id,
            invitation.email,
            invitation.role,
            "active",
            now,
            valid_until=grant.valid_until if grant else None,
            grant_id=grant.grant_id if grant else None,
            display_name=name,
        )
        try:
            if new_user is not None:
                self._identity.confirm(user_id)  # the mailed token proved the mailbox
            self._store.accept_invitation(token, invitation, membership, new_user, now)
        except Exception as exc:
            if new_user is not None:
                self._forget_pool_user(user_id)
            if isinstance(exc, Conflict):
                detail = {
                    "membership": "You are already an active member of this tenant.",
                    "email": "An account with this email address was created meanwhile; accept again.",
                }
                raise ValidationFailed(
                    detail.get(exc.field or "", "This invitation is no longer valid."), field="token"
                ) from exc
            raise
        tenant = self._tenant(invitation.tenant_id)
        self._record(
            tenant,
            "invitation_accepted",
            actor=user_id,
            details={
                "user_id": user_id,
                "email": invitation.email,
                "role": str(invitation.role),
                "invitation_id": invitation.invitation_id,
                "grant_id": invitation.grant_id,
                "display_name": name,
            },
        )
        return Accepted(membership, new_user is not None)

    # ---- members --------------------------------------------------------------------------
    def roster(self, tenant_id: str) -> TenantRoster:
        return self._store.roster(tenant_id)

    def update_member(
        self,
        caller: Caller,
        user_id: str,
        role: Role | str | None,
        disabled: bool | None,
        display_name: str | None = None,
    ) -> Membership:
        """Change a member's role, status or display name (``None``: unchanged). The display name
        changes only what is recorded from now on: sealed entries keep the name they were sealed
        with."""
        name = None if display_name is None else parse_display_name(display_name)
        _, member = self._store.get_access(caller.tenant_id, user_id)
        if member is None:
            raise NotFound("no such member in this tenant", field="user_id")
        if member.role == Role.AUDITOR:
            raise Conflict(
                "auditors are managed through their grant (DELETE /v1/tenants/{tenant_id}/auditor-grants/{grant_id})",
                field="role" if role is not None else "disabled" if disabled is not None else "display_name",
            )
        new_role = Role(role) if role is not None else member.role
        if new_role not in INVITABLE_ROLES:
            raise ValidationFailed("The role must be admin, accountant, manager or seller.", field="role")
        new_status = member.status if disabled is None else ("disabled" if disabled else "active")
        new_name = member.display_name if name is None else name
        updated = replace(member, role=new_role, status=new_status, display_name=new_name)
        if (updated.role, updated.status, updated.name) == (member.role, member.status, member.name):
            return member
        try:
            self._store.update_membership(member, updated)
        except Conflict as exc:
            if exc.field == "last_admin":
                raise Conflict(
                    "a tenant keeps at least one active admin: make another member admin first",
                    field="role" if new_role != member.role else "disabled",
                ) from exc
            raise Conflict("this member was changed meanwhile; read it again and retry", field="user_id") from exc
        tenant = self._tenant(caller.tenant_id)
        if new_role != member.role:
            self._record(
                tenant,
                "role_changed",
                actor=caller.user_id,
                details={"user_id": user_id, "from": str(member.role), "to": str(new_role)},
            )
        if new_status != member.status:
            self._record(
                tenant,
                "member_disabled" if new_status == "disabled" else "member_enabled",
                actor=caller.user_id,
                details={"user_id": user_id, "role": str(new_role)},
            )
        if updated.name != member.name:
            # A member's name is part of the tenant's configuration: journaled like the settings.
            self._record(
                tenant,
                "config_changed",
                actor=caller.user_id,
                details={
                    "user_id": user_id,
                    "changed": ["display_name"],
                    "before": {"display_name": member.name},
                    "after": {"display_name": updated.name},
                },
            )
        return updated

    # ---- auditor grants -------------------------------------------------------------------
    def grant_auditor(self, caller: Caller, email: str, days: int, note: str = "") -> InvitationResult:
        if not 1 <= days <= MAX_GRANT_DAYS:
            raise ValidationFailed(f"An auditor grant lasts 1 to {MAX_GRANT_DAYS} days.", field="days")
        email = normalise_email(email)
        tenant = self._tenant(caller.tenant_id)
        self._refuse_existing_member(tenant.tenant_id, email)
        now = self._clock()
        # Whole seconds: the store keeps milliseconds, and the answer must equal what is read back.
        valid_until = (now + timedelta(days=days)).replace(microsecond=0)
        grant = AuditorGrant(new_id("g"), tenant.tenant_id, email, valid_until, caller.user_id, now, note=note)
        invitation = Invitation(
            new_id("i"),
            tenant.tenant_id,
            email,
            Role.AUDITOR,
            caller.user_id,
            now,
            min(now + INVITATION_TTL, grant.valid_until),
            grant_id=grant.grant_id,
        )
        secret, token = OneTimeToken.issue(
            "invitation",
            now,
            invitation.expires_at - now,
            tenant_id=tenant.tenant_id,
            invitation_id=invitation.invitation_id,
        )
        self._store.create_invitation(invitation, token, grant)
        self._record(
            tenant,
            "auditor_granted",
            actor=caller.user_id,
            details={
                "grant_id": grant.grant_id,
                "email": email,
                "valid_until": _iso(grant.valid_until),
                "note": note,
            },
        )
        self._send_quietly(
            email,
            f"Read-only access to the books of {tenant.company_name} (Scellé)",
            self._invitation_text(
                tenant,
                f"as an auditor, read-only, until {_iso(grant.valid_until)}",
                secret,
                invitation.expires_at,
            ),
        )
        return InvitationResult(invitation, secret, grant)

    def grants(self, tenant_id: str) -> list[AuditorGrant]:
        return sorted(self._store.roster(tenant_id).grants, key=lambda g: g.created_at, reverse=True)

    def revoke_grant(self, caller: Caller, grant_id: str) -> AuditorGrant:
        grant = self._store.get_grant(caller.tenant_id, grant_id)
        if grant is None:
            raise NotFound("no such auditor grant in this tenant", field="grant_id")
        if grant.status == "revoked":
            raise Conflict("this auditor grant is already revoked", field="grant_id")
        now = self._clock()
        try:
            self._store.revoke_grant(grant, now)
        except Conflict as exc:
            raise Conflict("this auditor grant was changed meanwhile; retry", field="grant_id") from exc
        self._record(
            self._tenant(caller.tenant_id),
            "auditor_revoked",
            actor=caller.user_id,
            details={"grant_id": grant_id, "email": grant.email, "user_id": grant.user_id},
        )
        return replace(grant, status="revoked")

    # ---- the caller's own account ---------------------------------------------------------
    def me(self, principal: Principal) -> User:
        user = self._store.get_user(principal.user_id)
        if user is None:
            raise NotFound("this account has no profile yet", field="user_id")
        return user

    def memberships(self, principal: Principal) -> list[MembershipView]:
        views = []
        for m in sorted(self._store.memberships_of(principal.user_id), key=lambda m: m.tenant_id):
            views.append(MembershipView(m, self._store.get_tenant(m.tenant_id)))
        return views

    # ---- platform operators (no HTTP route creates one) ----------------------------------
    def create_operator(self, email: str, password: str) -> User:
        email = normalise_email(email)
        self.password_policy.check(password)
        if self._store.user_id_for_email(email):
            raise Conflict("an account with this email address already exists", field="email")
        user_id = self._pool_sign_up(email, password)
        user = User(user_id, email, email_verified=True, operator=True, created_at=self._clock())
        try:
            self._identity.confirm(user_id)
            self._store.create_user(user)
        except Exception:
            self._forget_pool_user(user_id)
            raise
        return user

    def add_operator(self, email: str) -> OperatorAdded:
        """``scelle operator add``: a new operator account with a generated password, or the
        operator flag on an existing, verified account that is an active member of no tenant
        (operators are never tenant members). Adding an operator twice changes nothing."""
        email = normalise_email(email)
        user_id = self._store.user_id_for_email(email)
        if user_id is None:
            password = self.password_policy.generate()
            return OperatorAdded(self.create_operator(email, password), "created", password)
        user = self._store.get_user(user_id)
        if user is None:
            raise Conflict("an account with this email address is being created; retry in a minute", field="email")
        if user.operator:
            return OperatorAdded(user, "already")
        if not user.email_verified:
            raise Conflict(
                "this account's email address is not verified yet; verify it (POST /v1/verify-email) first",
                field="email",
            )
        now = self._clock()
        tenants = sorted(m.tenant_id for m in self._store.memberships_of(user_id) if m.is_active(now))
        if tenants:
            raise Conflict(
                f"{email} is an active member of {len(tenants)} tenant(s) ({', '.join(tenants)}); platform "
                "operators are never tenant members: use another address, or have the memberships disabled first",
                field="email",
            )
        self._store.set_operator(user_id)
        logger.warning("account flagged as platform operator", extra={"user_id": user_id})
        return OperatorAdded(replace(user, operator=True), "flagged")

    def operators(self) -> list[User]:
        return sorted(self._store.operators(), key=lambda u: u.email)

    # ---- helpers --------------------------------------------------------------------------
    def _tenant(self, tenant_id: str) -> Tenant:
        tenant = self._store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("tenant not found", field="tenant_id")
        return tenant

    def _record(self, tenant: Tenant, kind: str, *, actor: str | None, details: dict) -> None:
        details = {k: v for k, v in details.items() if v is not None and v != ""}
        self._journal().record(tenant.tenant_id, kind, actor=actor, details=details, training=tenant.training)

    def _send_quietly(self, to: str, subject: str, text: str) -> bool:
        """Mail after the change is committed; a failure is logged (the user can ask again)."""
        try:
            self._mailer.send(to, subject, text)
            return True
        except Exception:
            logger.exception("mail could not be sent", extra={"subject": subject})
            return False
