"""An in-memory ``AccountsStore`` with the DynamoDB adapter's rules (unit tests, contract test).

Each change checks every condition first and only then writes, so a refused change leaves the
state untouched, as a cancelled DynamoDB transaction does.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime

import jwt

from chalicelib.domain.accounts import (
    AuditorGrant,
    Invitation,
    Membership,
    OneTimeToken,
    ThrottleState,
    User,
)
from chalicelib.domain.errors import Conflict, Unauthenticated, Unavailable
from chalicelib.domain.tenant import Tenant
from chalicelib.ports.accounts import AccessRecord, BadCredentials, EmailNotVerified, TenantRoster, Tokens


def _conflict(field: str) -> Conflict:
    return Conflict(f"a condition on {field} failed", field=field)


def _changeable(m: Membership) -> tuple[str, str, str]:
    """What ``update_membership`` changes, and so what must still be as read."""
    return str(m.role), m.status, m.display_name


class InMemoryAccountsStore:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.emails: dict[str, str] = {}
        self.companies: dict[tuple[str, str], str] = {}
        self.tenants: dict[str, Tenant] = {}
        self.admin_counts: dict[str, int] = {}
        self.members: dict[tuple[str, str], Membership] = {}
        self.tokens: dict[str, OneTimeToken] = {}
        self.invitations: dict[tuple[str, str], Invitation] = {}
        self.grants: dict[tuple[str, str], AuditorGrant] = {}
        self.throttles: dict[str, ThrottleState] = {}
        self.sessions: dict[str, str] = {}
        self._lock = threading.RLock()

    def count(self) -> int:
        """Every record held (tests assert that refused requests add none)."""
        return sum(
            len(c)
            for c in (
                self.users,
                self.emails,
                self.companies,
                self.tenants,
                self.members,
                self.tokens,
                self.invitations,
                self.grants,
                self.throttles,
                self.sessions,
            )
        )

    # users and uniqueness
    def get_user(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def user_id_for_email(self, email: str) -> str | None:
        return self.emails.get(email)

    def tenant_for_company(self, country: str, company_number: str) -> str | None:
        return self.companies.get((country, company_number))

    def _check_new_user(self, user: User) -> None:
        if user.email in self.emails:
            raise _conflict("email")
        if user.user_id in self.users:
            raise _conflict("user_id")

    def _add_user(self, user: User) -> None:
        self.emails[user.email] = user.user_id
        self.users[user.user_id] = user

    def create_signup(self, tenant: Tenant, user: User, admin: Membership, token: OneTimeToken) -> None:
        with self._lock:
            self._check_new_user(user)
            if (tenant.country, tenant.company_number) in self.companies:
                raise _conflict("company_number")
            if tenant.tenant_id in self.tenants:
                raise _conflict("tenant_id")
            if token.token_hash in self.tokens:
                raise _conflict("token")
            self._add_user(user)
            self.companies[(tenant.country, tenant.company_number)] = tenant.tenant_id
            self.tenants[tenant.tenant_id] = tenant
            self.admin_counts[tenant.tenant_id] = 1
            self.members[(tenant.tenant_id, user.user_id)] = admin
            self.tokens[token.token_hash] = token

    def create_user(self, user: User) -> None:
        with self._lock:
            self._check_new_user(user)
            self._add_user(user)

    def set_operator(self, user_id: str) -> None:
        with self._lock:
            user = self.users.get(user_id)
            if user is None:
                raise _conflict("user_id")
            self.users[user_id] = replace(user, operator=True)

    def operators(self) -> list[User]:
        return [u for u in self.users.values() if u.operator]

    def _check_token(self, token: OneTimeToken, now: datetime) -> None:
        stored = self.tokens.get(token.token_hash)
        if stored is None or not stored.usable(now):
            raise _conflict("token")

    def verify_email(self, token: OneTimeToken, now: datetime) -> None:
        with self._lock:
            self._check_token(token, now)
            user = self.users.get(token.user_id or "")
            if user is None:
                raise _conflict("user_id")
            self.tokens[token.token_hash] = replace(self.tokens[token.token_hash], used_at=now)
            self.users[user.user_id] = replace(user, email_verified=True)

    # tenants
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def go_live(self, tenant_id: str, at: datetime) -> Tenant:
        with self._lock:
            tenant = self.tenants.get(tenant_id)
            if tenant is None or tenant.mode != "test":
                raise Conflict(
                    "the tenant is already in production; going live is irreversible and done once",
                    field="mode",
                )
            self.tenants[tenant_id] = tenant.gone_live(at)
            return self.tenants[tenant_id]

    def update_tenant_settings(self, before: Tenant, after: Tenant) -> Tenant:
        with self._lock:
            current = self.tenants.get(before.tenant_id)
            if current is None or current.changed_settings(before):
                raise Conflict("the tenant's settings were changed meanwhile", field="settings")
            self.tenants[before.tenant_id] = replace(
                current,
                time_zone=after.time_zone,
                business_day_cutoff=after.business_day_cutoff,
                opening_hours=after.opening_hours,
            )
            return self.tenants[before.tenant_id]

    # tokens
    def get_token(self, token_hash: str) -> OneTimeToken | None:
        return self.tokens.get(token_hash)

    def put_token(self, token: OneTimeToken) -> None:
        with self._lock:
            if token.token_hash in self.tokens:
                raise _conflict("token")
            self.tokens[token.token_hash] = token

    # memberships, invitations, grants
    def get_access(self, tenant_id: str, user_id: str) -> tuple[User | None, Membership | None]:
        return self.users.get(user_id), self.members.get((tenant_id, user_id))

    def read_access(self, tenant_id: str, user_id: str, session_id: str = "") -> AccessRecord:
        with self._lock:
            return AccessRecord(self.users.get(user_id), self.members.get((tenant_id, user_id)),
                                self.tenants.get(tenant_id), bool(session_id) and session_id in self.sessions)

    def roster(self, tenant_id: str) -> TenantRoster:
        return TenantRoster(
            members=[m for (t, _), m in self.members.items() if t == tenant_id],
            invitations=[i for (t, _), i in self.invitations.items() if t == tenant_id],
            grants=[g for (t, _), g in self.grants.items() if t == tenant_id],
        )

    def memberships_of(self, user_id: str) -> list[Membership]:
        return [m for (_, u), m in self.members.items() if u == user_id]

    def create_invitation(self, invitation: Invitation, token: OneTimeToken, grant: AuditorGrant | None) -> None:
        with self._lock:
            if invitation.tenant_id not in self.tenants:
                raise _conflict("tenant_id")
            if (invitation.tenant_id, invitation.invitation_id) in self.invitations:
                raise _conflict("invitation_id")
            if token.token_hash in self.tokens:
                raise _conflict("token")
            self.invitations[(invitation.tenant_id, invitation.invitation_id)] = invitation
            self.tokens[token.token_hash] = token
            if grant is not None:
                self.grants[(grant.tenant_id, grant.grant_id)] = grant

    def get_invitation(self, tenant_id: str, invitation_id: str) -> Invitation | None:
        return self.invitations.get((tenant_id, invitation_id))

    def accept_invitation(
        self,
        token: OneTimeToken,
        invitation: Invitation,
        membership: Membership,
        new_user: User | None,
        now: datetime,
    ) -> None:
        with self._lock:
            self._check_token(token, now)
            key = (invitation.tenant_id, invitation.invitation_id)
            stored = self.invitations.get(key)
            if stored is None or stored.status != "pending":
                raise _conflict("invitation")
            existing = self.members.get((membership.tenant_id, membership.user_id))
            if existing is not None and existing.status == "active":
                raise _conflict("membership")
            if new_user is not None:
                self._check_new_user(new_user)
            grant = self.grants.get((invitation.tenant_id, invitation.grant_id or ""))
            if invitation.grant_id and (grant is None or grant.status != "pending"):
                raise _conflict("grant")
            self.tokens[token.token_hash] = replace(self.tokens[token.token_hash], used_at=now)
            self.invitations[key] = replace(stored, status="accepted")
            self.members[(membership.tenant_id, membership.user_id)] = membership
            if new_user is not None:
                self._add_user(new_user)
            if membership.counts_as_admin:
                self.admin_counts[membership.tenant_id] += 1
            if grant is not None:
                self.grants[(grant.tenant_id, grant.grant_id)] = replace(
                    grant, status="active", user_id=membership.user_id
                )

    def update_membership(self, old: Membership, new: Membership) -> None:
        with self._lock:
            key = (old.tenant_id, old.user_id)
            current = self.members.get(key)
            if current is None or _changeable(current) != _changeable(old):
                raise _conflict("membership")
            delta = int(new.counts_as_admin) - int(old.counts_as_admin)
            if delta < 0 and self.admin_counts[old.tenant_id] <= 1:
                raise _conflict("last_admin")
            self.admin_counts[old.tenant_id] += delta
            self.members[key] = replace(current, role=new.role, status=new.status, display_name=new.display_name)

    def get_grant(self, tenant_id: str, grant_id: str) -> AuditorGrant | None:
        return self.grants.get((tenant_id, grant_id))

    def revoke_grant(self, grant: AuditorGrant, now: datetime) -> None:
        with self._lock:
            key = (grant.tenant_id, grant.grant_id)
            stored = self.grants.get(key)
            if stored is None or stored.status == "revoked":
                raise _conflict("grant")
            member = self.members.get((grant.tenant_id, grant.user_id or ""))
            if grant.user_id and (member is None or member.grant_id != grant.grant_id):
                raise _conflict("membership")
            self.grants[key] = replace(stored, status="revoked")
            if member is not None and grant.user_id:
                self.members[(grant.tenant_id, grant.user_id)] = replace(member, status="revoked")

    # throttle and sessions
    def get_throttle(self, key: str) -> ThrottleState:
        return self.throttles.get(key, ThrottleState())

    def save_throttle(self, key: str, state: ThrottleState, expires: datetime | None) -> None:
        self.throttles[key] = state

    def clear_throttle(self, key: str) -> None:
        self.throttles.pop(key, None)

    def revoke_session(self, session_id: str, user_id: str, until: datetime) -> None:
        self.sessions[session_id] = user_id

    def session_revoked(self, session_id: str) -> bool:
        return session_id in self.sessions


class InMemoryJournal:
    """An ``EventJournal`` that keeps events in a list (unit tests). It refuses unknown kinds as
    the sealed journal does."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def record(self, tenant_id: str, kind: str, *, actor: str | None, details: dict, training: bool = False):
        event = {
            "tenant_id": tenant_id,
            "kind": kind,
            "actor": actor,
            "details": dict(details),
            "training": training,
        }
        from chalicelib.domain.event_kinds import KINDS

        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        self.events.append(event)
        return event

    def kinds(self, tenant_id: str | None = None) -> list[str]:
        return [e["kind"] for e in self.events if tenant_id is None or e["tenant_id"] == tenant_id]


class InMemoryIdentity:
    """An ``IdentityProvider`` with Cognito's observable rules (unit tests)."""

    def __init__(self, clock=None) -> None:
        self.users: dict[str, dict] = {}  # user id -> {"email", "password", "confirmed", "created"}
        self.sessions: dict[str, tuple[str, str]] = {}  # refresh token -> (user id, session id)
        self.fail_sign_up = False
        self._ids = itertools.count(1)
        self._clock = clock or (lambda: datetime.now(UTC))

    def _by_email(self, email: str) -> str | None:
        return next((uid for uid, u in self.users.items() if u["email"] == email), None)

    def sign_up(self, email: str, password: str) -> str:
        if self._by_email(email):
            raise Conflict("an account with this email address already exists", field="email")
        user_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        self.users[user_id] = {
            "email": email,
            "password": password,
            "confirmed": False,
            "created": self._clock(),
        }
        return user_id

    def confirm(self, user_id: str) -> None:
        self.users[user_id]["confirmed"] = True

    def delete(self, user_id: str) -> None:
        self.users.pop(self._by_email(user_id) or user_id, None)

    def pool_user_since(self, email: str):
        uid = self._by_email(email)
        return None if uid is None else self.users[uid]["created"]

    def sign_in(self, email: str, password: str):
        uid = self._by_email(email)
        if uid is None or self.users[uid]["password"] != password:
            raise BadCredentials("incorrect email or password", field="password")
        if not self.users[uid]["confirmed"]:
            raise EmailNotVerified("this email address is not verified yet", field="email")
        return self._tokens(uid, f"s{next(self._ids)}", with_refresh=True)

    def _tokens(self, uid: str, session: str, with_refresh: bool):
        claims = {"sub": uid, "origin_jti": session, "jti": f"j{next(self._ids)}"}
        token = jwt.encode(claims, "unit-test-key-of-at-least-32-bytes!", algorithm="HS256")
        refresh = None
        if with_refresh:
            refresh = f"r{next(self._ids)}"
            self.sessions[refresh] = (uid, session)
        return Tokens(token, token, 3600, refresh)

    def refresh(self, refresh_token: str):
        if refresh_token not in self.sessions:
            raise Unauthenticated("the refresh token is invalid, expired or signed out", field="refresh_token")
        uid, session = self.sessions[refresh_token]
        return self._tokens(uid, session, with_refresh=False)

    def set_password(self, user_id: str, password: str) -> None:
        self.users[user_id]["password"] = password

    def sign_out_everywhere(self, username: str) -> None:
        user_id = self._by_email(username) or username
        for token, (uid, _) in list(self.sessions.items()):
            if uid == user_id:
                del self.sessions[token]


class InMemoryMailer:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.fail = False

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        if self.fail:
            raise Unavailable("mail is down")
        self.sent.append({"to": to, "subject": subject, "text": text})
        return f"m{len(self.sent)}"

    def token_for(self, to: str) -> str:
        """The token of the newest mail to ``to``."""
        for mail in reversed(self.sent):
            if mail["to"] == to:
                found = re.search(r"^token: (\S+)$", mail["text"], re.MULTILINE)
                if found:
                    return found.group(1)
        raise AssertionError(f"no token mailed to {to}")
