"""Sign-in, token refresh and sign-out through the user pool, with a throttle and an event for
every attempt.

* Each attempt, success or failure (wrong password, unknown address, unverified address, refused
  by the throttle), is an event in the journal of every tenant the address belongs to, or of
  ``_platform`` when it belongs to none.
* Failures per address slow sign-in down, then lock it for a while (``SignInPolicy``); a refused
  attempt never reaches the password check and is answered 429 with ``Retry-After``. Unknown
  addresses are throttled the same way, so the answer never tells whether an account exists.
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

from chalicelib.domain.accounts import PLATFORM_TENANT, SignInPolicy, normalise_email, utc_now
from chalicelib.domain.errors import TooManyRequests, Unauthenticated
from chalicelib.domain.identity import Principal
from chalicelib.observability import count, logger
from chalicelib.services.account_ports import (
    AccountsStore,
    BadCredentials,
    EmailNotVerified,
    EventJournal,
    IdentityProvider,
    Tokens,
)

REFRESH_TOKEN_LIFETIME = timedelta(days=30)  # the pool's default; a revoked session is remembered this long


def _now() -> datetime:
    return utc_now()


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
    ) -> None:
        self._store = store
        self._identity = identity
        self._journal = journal
        self.policy = policy or SignInPolicy()
        self._clock = clock

    def sign_in(self, email: str, password: str) -> Tokens:
        email = normalise_email(email)
        key = hashlib.sha256(email.encode()).hexdigest()
        now = self._clock()
        state = self._store.get_throttle(key)
        wait = self.policy.wait(state, now)
        if wait is not None:
            reason, seconds = wait
            self._record(email, False, reason)
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
            self._record(email, False, "bad_credentials")
            if after.locked_until:
                minutes = int(self.policy.lock_for.total_seconds() // 60)
                raise BadCredentials(
                    f"incorrect email or password; too many failures: sign-in is locked for {minutes} minutes",
                    field="password",
                ) from exc
            raise
        except EmailNotVerified:
            self._record(email, False, "email_not_verified")
            raise
        if state.failures or state.locked_until:
            self._store.clear_throttle(key)
        self._record(email, True, None, session=session_id(tokens.access_token))
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

    def _record(self, email: str, ok: bool, reason: str | None, session: str | None = None) -> None:
        user_id = self._store.user_id_for_email(email)
        kind = "signin_succeeded" if ok else ("signin_locked" if reason in ("locked", "slow_down") else "signin_failed")
        details = {"email": email, "user_id": user_id, "reason": reason, "session": session}
        self._fan_out(kind, user_id, actor=user_id if ok else None, details=details)
        if not ok:
            logger.info("sign-in refused", extra={"reason": reason})

    def _fan_out(self, kind: str, user_id: str | None, *, actor: str | None, details: dict) -> None:
        """Record in every tenant where the user is an active member, else in ``_platform``."""
        details = {k: v for k, v in details.items() if v is not None}
        now = self._clock()
        targets = []
        if user_id:
            for m in self._store.memberships_of(user_id):
                if m.is_active(now):
                    tenant = self._store.get_tenant(m.tenant_id)
                    if tenant is not None:
                        targets.append((tenant.tenant_id, tenant.training))
        journal = self._journal()
        for tenant_id, training in targets or [(PLATFORM_TENANT, False)]:
            journal.record(tenant_id, kind, actor=actor, details=details, training=training)
