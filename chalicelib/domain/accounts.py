"""Users, memberships, invitations, auditor grants, one-time tokens and the sign-in throttle.

Pure data and rules (stdlib only). Who may do what is in ``permissions``; the storage layout is in
docs/decisions/0004-accounts-table.md.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.permissions import Role

PLATFORM_TENANT = "_platform"  # event journal of events that belong to no tenant

MemberStatus = Literal["active", "disabled", "revoked"]
TokenPurpose = Literal["verify_email", "invitation", "password_reset"]
INVITABLE_ROLES = (Role.ADMIN, Role.ACCOUNTANT, Role.MANAGER, Role.SELLER)

VERIFY_EMAIL_TTL = timedelta(hours=24)
INVITATION_TTL = timedelta(days=7)
PASSWORD_RESET_TTL = timedelta(hours=1)
MAX_GRANT_DAYS = 366

_ID = re.compile(r"^[tgi][0-9a-f]{20}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond (what the accounts table stores)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_id(kind: Literal["t", "g", "i"]) -> str:
    """A random id: ``t`` tenant, ``g`` auditor grant, ``i`` invitation (+ 20 hex digits)."""
    return kind + secrets.token_hex(10)


def is_id(value: str, kind: str) -> bool:
    return bool(_ID.match(value)) and value[0] == kind


def normalise_email(value: object, field: str = "email") -> str:
    """Trimmed and lower-cased (the address is the sign-in name, compared case-insensitively)."""
    if not isinstance(value, str):
        raise ValidationFailed("Expected an email address as a string.", field=field)
    text = value.strip().lower()
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValidationFailed("Not a valid email address (expected name@domain.tld).", field=field)
    return text


MAX_DISPLAY_NAME = 100


def parse_display_name(value: object, field: str = "display_name") -> str:
    """A member's display name, as sealed in the entries they record (``seller``, ``recorded_by``,
    ``closed_by``): runs of white space become one space; 1 to ``MAX_DISPLAY_NAME`` characters;
    no control or invisible formatting characters (a bidi override would make an export lie)."""
    if not isinstance(value, str):
        raise ValidationFailed("Expected a display name as a string.", field=field)
    text = " ".join(value.split())
    if not text:
        raise ValidationFailed("The display name must not be empty.", field=field)
    if len(text) > MAX_DISPLAY_NAME:
        raise ValidationFailed(
            f"The display name is too long: {len(text)} characters, at most {MAX_DISPLAY_NAME}.", field=field
        )
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise ValidationFailed("The display name must not contain control or formatting characters.", field=field)
    return text


def optional_display_name(value: object, field: str = "display_name") -> str:
    """``parse_display_name`` when given; ``""`` (absent: the email address stands in) for None."""
    return "" if value is None else parse_display_name(value, field)


# ---- Passwords ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 10
    max_length: int = 64
    upper: bool = True
    lower: bool = True
    digit: bool = True

    def describe(self) -> str:
        needs = [
            n
            for n, on in (
                ("an upper-case letter", self.upper),
                ("a lower-case letter", self.lower),
                ("a digit", self.digit),
            )
            if on
        ]
        return (
            f"{self.min_length} to {self.max_length} characters, with at least "
            + ", ".join(needs)
            + ", and no space at either end"
        )

    def check(self, password: str, field: str = "password") -> None:
        ok = (
            self.min_length <= len(password) <= self.max_length
            and (not self.upper or any(c.isupper() for c in password))
            and (not self.lower or any(c.islower() for c in password))
            and (not self.digit or any(c.isdigit() for c in password))
            and password.isprintable()
            and password == password.strip()
        )
        if not ok:
            raise ValidationFailed(f"The password must have {self.describe()}.", field=field)

    def generate(self) -> str:
        """A random password that satisfies the policy (demo accounts)."""
        return "Sc" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y") + "7a"


# ---- Records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str  # the Cognito ``sub``
    email: str
    email_verified: bool = False
    operator: bool = False
    created_at: datetime | None = None
    display_name: str = ""  # the profile name (sign-up or first invitation); the default of new memberships


@dataclass(frozen=True)
class Membership:
    tenant_id: str
    user_id: str
    email: str
    role: Role
    status: MemberStatus = "active"
    joined_at: datetime | None = None
    valid_until: datetime | None = None  # auditors only
    grant_id: str | None = None  # auditors only
    display_name: str = ""  # "" (records older than display names, or none given): the email stands in

    @property
    def name(self) -> str:
        """The name sealed in what this member records in this tenant."""
        return self.display_name or self.email

    def is_active(self, now: datetime) -> bool:
        return self.status == "active" and (self.valid_until is None or now < self.valid_until)

    @property
    def counts_as_admin(self) -> bool:
        return self.role == Role.ADMIN and self.status == "active"


@dataclass(frozen=True)
class Invitation:
    invitation_id: str
    tenant_id: str
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "accepted", "revoked"] = "pending"
    grant_id: str | None = None  # set when the invitation carries an auditor grant
    display_name: str = ""  # chosen by the admin; the invitee may give another when accepting


@dataclass(frozen=True)
class AuditorGrant:
    grant_id: str
    tenant_id: str
    email: str
    valid_until: datetime
    granted_by: str
    created_at: datetime
    status: Literal["pending", "active", "revoked"] = "pending"
    user_id: str | None = None
    note: str = ""

    def effective_status(self, now: datetime) -> str:
        return "expired" if self.status != "revoked" and now >= self.valid_until else self.status


@dataclass(frozen=True)
class OneTimeToken:
    """A single-use secret sent by mail. Only its SHA-256 is stored."""

    token_hash: str
    purpose: TokenPurpose
    expires_at: datetime
    user_id: str | None = None  # verify_email
    tenant_id: str | None = None  # invitation
    invitation_id: str | None = None  # invitation
    used_at: datetime | None = None

    @staticmethod
    def issue(purpose: TokenPurpose, now: datetime, ttl: timedelta, **refs: str) -> tuple[str, OneTimeToken]:
        secret = secrets.token_urlsafe(32)
        return secret, OneTimeToken(hash_token(secret), purpose, now + ttl, **refs)

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- Password reset codes ------------------------------------------------------------------
# 12 characters of Crockford's base 32 (no I, L, O, U: nothing to misread), 60 bits, shown as
# XXXX-XXXX-XXXX: typed by hand from the mail, and far beyond guessing within its hour and the
# throttle. Read back case-insensitively, with dashes and spaces ignored.
RESET_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESET_CODE_LENGTH = 12
RESET_CODE_PATTERN = r"^[0-9A-Za-z -]{12,32}$"  # as sent: the characters and length before normalising


def new_reset_code() -> str:
    code = "".join(secrets.choice(RESET_CODE_ALPHABET) for _ in range(RESET_CODE_LENGTH))
    return "-".join(code[i:i + 4] for i in range(0, RESET_CODE_LENGTH, 4))


def normalise_reset_code(text: str) -> str:
    """The code as typed, canonical: upper case, dashes and spaces removed; ValidationFailed
    (field ``code``) when it cannot be a code this API mailed."""
    code = text.replace("-", "").replace(" ", "").upper()
    if len(code) != RESET_CODE_LENGTH or any(c not in RESET_CODE_ALPHABET for c in code):
        raise ValidationFailed(
            f"A reset code has {RESET_CODE_LENGTH} letters and digits, as mailed (XXXX-XXXX-XXXX).", field="code")
    return code


def reset_code_hash(user_id: str, code: str) -> str:
    """The stored key of a reset code: bound to its account, so the same code of two accounts
    never meets (only the hash is stored, like every mailed secret)."""
    return hash_token(f"password_reset:{user_id}:{code}")


# ---- Sign-in throttle -----------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class SignInPolicy:
    """Consecutive failures for one email address slow sign-in down, then lock it.

    The first ``free_failures`` failures cost nothing; after the n-th failure the next attempt
    is allowed only ``base_delay * 2**(n - free_failures)`` later; at ``lock_after`` failures the
    address is locked for ``lock_for``. Failures older than ``window`` are forgotten; a success
    forgets them all. Attempts refused by the throttle never reach the password check.
    """

    free_failures: int = 3
    base_delay: timedelta = timedelta(seconds=1)
    lock_after: int = 6
    lock_for: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=15)

    def current(self, state: ThrottleState, now: datetime) -> ThrottleState:
        if state.locked_until and now < state.locked_until:
            return state
        if state.last_failure_at is None or now - state.last_failure_at >= self.window or state.locked_until:
            return ThrottleState()  # forgotten, or the lock has run out
        return state

    def wait(self, state: ThrottleState, now: datetime) -> tuple[str, int] | None:
        """``(reason, seconds)`` to wait before the next attempt, or None to let it through."""
        state = self.current(state, now)
        if state.locked_until and now < state.locked_until:
            return "locked", _ceil_seconds(state.locked_until - now)
        if state.failures >= self.free_failures and state.last_failure_at is not None:
            ready = state.last_failure_at + self.base_delay * 2 ** (state.failures - self.free_failures)
            if now < ready:
                return "slow_down", _ceil_seconds(ready - now)
        return None

    def after_failure(self, state: ThrottleState, now: datetime) -> ThrottleState:
        state = self.current(state, now)
        failures = state.failures + 1
        if failures >= self.lock_after:
            return ThrottleState(failures, now, now + self.lock_for)
        return replace(state, failures=failures, last_failure_at=now, locked_until=None)

    def expires(self, state: ThrottleState) -> datetime | None:
        """When the state can be forgotten by the store (TTL)."""
        ends = [t for t in (state.locked_until, state.last_failure_at and state.last_failure_at + self.window) if t]
        return max(ends) if ends else None


def _ceil_seconds(delta: timedelta) -> int:
    return max(1, int(-(-delta.total_seconds() // 1)))
