"""Sign-in, token refresh and sign-out through the user pool, with a throttle and an event for
every attempt.

* A success is an event (``signin_succeeded``) in the journal of every tenant the address
  belongs to. A failure (wrong password, unknown address, unverified address, refused by the
  throttle) is unauthenticated, so it is not sealed one by one: ``SignInFailures`` counts it per
  tenant (or ``_platform`` when the address belongs to none) and time window, seals the first of
  a window at once and the rest as one summary once the window is over (decision 0011).
* Failures per address slow sign-in down, then lock it for a while (``SignInPolicy``); a refused
  attempt never reaches the password check and is answered 429 with ``Retry-After``. Unknown
  addresses are throttled the same way, so the answer never tells whether an account exists.
  The lock-out itself is sealed once (``signin_locked``) in the journal of each tenant of the
  address; the lock-out of an address without a tenant is counted in the platform's summary.
* Sign-out revokes the session the token belongs to (its ``origin_jti``): the authorizer then
  refuses every access or id token of that session, and ``refresh`` refuses to extend it.
  ``everywhere`` also revokes every refresh token of the user in the pool (other sessions' access
  tokens then die with their expiry, at most one hour later).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import jwt

from chalicelib.domain.accounts import PLATFORM_TENANT, SignInPolicy, ThrottleState, normalise_email, utc_now
from chalicelib.domain.errors import TooManyRequests, Unauthenticated
from chalicelib.domain.identity import Principal
from chalicelib.domain.records import utc_timestamp
from chalicelib.observability import count, logger
from chalicelib.ports.accounts import (
    AccountsStore,
    BadCredentials,
    EmailNotVerified,
    EventJournal,
    IdentityProvider,
    Tokens,
)
from chalicelib.services.signin_failures import SignInFailures

REFRESH_TOKEN_LIFETIME = timedelta(days=30)  # the pool's default; a revoked session is remembered this long


def _now() -> datetime:
    return utc_now()


def signin_throttle_key(email: str) -> str:
    """The sign-in throttle's key of a (normalised) address; password reset clears it too."""
    return hashlib.sha256(email.encode()).hexdigest()


def account_tenants(store, user_id: str | None, now: datetime) -> list[tuple[str, bool]]:
    """(tenant, training) of every tenant where the account is an active member: where an event
    about the account itself (sign-in, lock-out, password reset) is journaled, else ``_platform``."""
    targets = []
    if user_id:
        for m in store.memberships_of(user_id):
            if m.is_active(now):
                tenant = store.get_tenant(m.tenant_id)
                if tenant is not None:
                    targets.append((tenant.tenant_id, tenant.training))
    return targets


def record_account_event(journal, store, kind: str, user_id: str | None, *, actor: str | None, details: dict,
                         now: datetime) -> None:
    """Record ``kind`` in every tenant of the account (``account_tenants``), else in ``_platform``."""
    for tenant_id, training in account_tenants(store, user_id, now) or [(PLATFORM_TENANT, False)]:
        journal.record(tenant_id, kind, actor=actor, details=details, training=training)


def session_id(token: str) -> str | None:
    """The session a (verified) Cognito token belongs to: ``origin_jti``, else its own ``jti``."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims.get("origin_jti") or claims.get("jti")


class SignInService:
    def __init__(
        self,
        store: AccountsStore,
        identity: IdentityProvider,
        journal: Callable[[], EventJournal],
        policy: SignInPolicy | None = None,
        clock: Callable[[], datetime] = _now,
        *,
        failures: SignInFailures,
    ) -> None:
        self._store = store
        self._identity = identity
        self._journal = journal
        self.policy = policy or SignInPolicy()
        self._clock = clock
        self._failures = failures

    def sign_in(self, email: str, password: str) -> Tokens:
        email = normalise_email(email)
        key = signin_throttle_key(email)
        now = self._clock()
        state = self._store.get_throttle(key)
        wait = self.policy.wait(state, now)
        if wait is not None:
            reason, seconds = wait
            self._failed(email, reason)
            detail = (
                f"too many failed sign-ins: this address is locked; try again in {seconds} s"
                if reason == "locked"
                else f"too many failed sign-ins: wait {seconds} s before trying again"
            )
            raise TooManyRequests(detail, field="email", retry_after=seconds)
        try:
            tokens = self._identity.sign_in(email, password)
        except BadCredentials as exc:
            after = self.policy.after_failure(state, now)
            self._store.save_throttle(key, after, self.policy.expires(after))
            count("SignInFailures")
            self._failed(email, "bad_credentials", locked=after if after.locked_until else None)
            if after.locked_until:
                minutes = int(self.policy.lock_for.total_seconds() // 60)
                raise BadCredentials(
                    f"incorrect email or password; too many failures: sign-in is locked for {minutes} minutes",
                    field="password",
                ) from exc
            raise
        except EmailNotVerified:
            self._failed(email, "email_not_verified")
            raise
        if state.failures or state.locked_until:
            self._store.clear_throttle(key)
        user_id = self._store.user_id_for_email(email)
        self._fan_out("signin_succeeded", user_id, actor=user_id,
                      details={"email": email, "user_id": user_id, "session": session_id(tokens.access_token)})
        return tokens

    def refresh(self, refresh_token: str) -> Tokens:
        tokens = self._identity.refresh(refresh_token)
        sid = session_id(tokens.access_token)
        if sid and self._store.session_revoked(sid):
            raise Unauthenticated("this session has been signed out; sign in again", field="refresh_token")
        return tokens

    def sign_out(self, principal: Principal, token: str, *, everywhere: bool = False) -> None:
        sid = session_id(token)
        if sid:
            self._store.revoke_session(sid, principal.user_id, self._clock() + REFRESH_TOKEN_LIFETIME)
        if everywhere:
            # By email: the name the sessions were opened with (moto matches on it; AWS takes either).
            user = self._store.get_user(principal.user_id)
            self._identity.sign_out_everywhere(user.email if user else principal.user_id)
        self._fan_out(
            "signout",
            principal.user_id,
            actor=principal.user_id,
            details={"user_id": principal.user_id, "session": sid, "everywhere": everywhere},
        )

    def is_revoked(self, token: str) -> bool:
        sid = session_id(token)
        return bool(sid) and self._store.session_revoked(sid)

    def _failed(self, email: str, reason: str, *, locked: ThrottleState | None = None) -> None:
        """Count a failed attempt in every tenant of the address (else ``_platform``); seal the
        lock-out it caused, if any, once per tenant."""
        user_id = self._store.user_id_for_email(email)
        targets = account_tenants(self._store, user_id, self._clock())
        platform = not targets
        for tenant_id, training in targets or [(PLATFORM_TENANT, False)]:
            self._failures.record(tenant_id, training=training, email=email, user_id=user_id, reason=reason,
                                  lockout=platform and locked is not None)
        if locked is not None and locked.locked_until is not None and not platform:
            details = {"email": email, "user_id": user_id, "reason": "locked", "failures": locked.failures,
                       "locked_until": utc_timestamp(locked.locked_until)}
            journal = self._journal()
            for tenant_id, training in targets:
                journal.record(tenant_id, "signin_locked", actor=None, details=details, training=training)
        logger.info("sign-in refused", extra={"reason": reason})

    def _fan_out(self, kind: str, user_id: str | None, *, actor: str | None, details: dict) -> None:
        details = {k: v for k, v in details.items() if v is not None}
        record_account_event(self._journal(), self._store, kind, user_id, actor=actor, details=details,
                             now=self._clock())
