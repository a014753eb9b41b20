"""Password reset: a code mailed by the product, then the new password set in the user pool.

Like email verification (``AccountsService.verify_email``), the secret is the product's own, mailed
by its own mailer (SES; locally the outbox), never Cognito's ``ForgotPassword`` code: that one is
mailed by Cognito itself, outside the product's mail and outbox, and the emulator neither mails
it nor checks it. Then ``AdminSetUserPassword`` sets the new password (``IdentityProvider.set_password``).

Rules (each has a test):

* **No account enumeration.** ``request`` answers the same for any address: a code is mailed
  only to an existing account whose address is verified; nothing says whether one was.
* **Throttled like sign-in** (``SignInPolicy``, per address, known or not): every request counts,
  and so does every wrong code at ``confirm``; after three, each next attempt must wait longer,
  the sixth locks the address for 15 minutes (429 with ``Retry-After``). The two counters are
  separate from sign-in's, so a locked reset does not lock sign-in.
* **The code** (``domain.accounts.new_reset_code``): 60 random bits, valid one hour, single use;
  only its hash is stored, bound to the account. A new request does not cancel an older code
  still within its hour. A wrong, used or expired code is a 422 naming ``code`` and changes
  nothing but the throttle counter.
* **Single use without a race**: the first confirm claims the code by writing its "used" marker
  (a token item keyed by the code's hash, written only if absent), before the password changes.
* **After a reset** the account's refresh tokens are revoked in the pool (every session must
  sign in again once its access token expires, within the hour), the sign-in throttle of the
  address is cleared (the mailbox proved its owner), and ``password_reset`` is journaled in every
  tenant where the account is an active member, else in ``_platform``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from chalicelib.domain.accounts import (
    PASSWORD_RESET_TTL,
    OneTimeToken,
    PasswordPolicy,
    SignInPolicy,
    hash_token,
    new_reset_code,
    normalise_email,
    normalise_reset_code,
    reset_code_hash,
    utc_now,
)
from chalicelib.domain.errors import Conflict, Findings, TooManyRequests, ValidationFailed
from chalicelib.observability import logger
from chalicelib.ports.accounts import AccountsStore, EventJournal, IdentityProvider, Mailer
from chalicelib.services.signin import record_account_event, signin_throttle_key

SUBJECT = "Reset your Scellé password"


def _throttle_key(purpose: str, email: str) -> str:
    return hashlib.sha256(f"{purpose}:{email}".encode()).hexdigest()


def _used_marker(code_hash: str) -> str:
    return hash_token(f"used:{code_hash}")


def _refuse(detail: str, field: str) -> None:
    raise ValidationFailed(detail, field=field)


class PasswordResetService:
    def __init__(
        self,
        store: AccountsStore,
        identity: IdentityProvider,
        mailer: Mailer,
        journal: Callable[[], EventJournal],
        *,
        public_base_url: str = "http://127.0.0.1:8000",
        password_policy: PasswordPolicy | None = None,
        policy: SignInPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._identity = identity
        self._mailer = mailer
        self._journal = journal
        self._base = public_base_url.rstrip("/")
        self.password_policy = password_policy or PasswordPolicy()
        self.policy = policy or SignInPolicy()
        self._clock = clock

    # ---- POST /v1/password-reset ------------------------------------------------------------
    def request(self, email: str) -> str | None:
        """Mail a reset code if ``email`` has a verified account; say nothing either way. Returns
        the code mailed (None if none), for tests; never part of an HTTP answer."""
        email = normalise_email(email)
        self._take("password-reset", email)
        user_id = self._store.user_id_for_email(email)
        user = self._store.get_user(user_id) if user_id else None
        if user is None or not user.email_verified:
            return None
        code = new_reset_code()
        token = OneTimeToken(reset_code_hash(user.user_id, normalise_reset_code(code)), "password_reset",
                             self._clock() + PASSWORD_RESET_TTL, user_id=user.user_id)
        self._store.put_token(token)
        try:
            self._mailer.send(email, SUBJECT, self._text(email, code))
        except Exception:  # the answer is the same; the owner can ask again
            logger.exception("mail could not be sent", extra={"subject": SUBJECT})
        return code

    def _text(self, email: str, code: str) -> str:
        link = f"{self._base}/#/reset?email={quote(email, safe='')}&code={code}"
        return (
            "Someone (we hope you) asked to reset the password of your Scellé account.\n\n"
            "To choose a new password, open this link (usable once, valid 1 hour):\n\n"
            f"  {link}\n\n"
            "Or send this code with your new password to the API:\n\n"
            f"code: {code}\n\n"
            f"  curl -X POST {self._base}/v1/password-reset/confirm -H 'Content-Type: application/json' "
            f'-d \'{{"email": "{email}", "code": "{code}", "new_password": "<a new password>"}}\'\n\n'
            "Once the password is changed, every session of the account has to sign in again.\n"
            "If you did not ask for this, ignore this message: your password stays as it is.\n"
        )

    # ---- POST /v1/password-reset/confirm ------------------------------------------------------
    def confirm(self, email: str, code: str, new_password: str) -> None:
        """Set ``new_password`` if ``code`` is the unused, unexpired code mailed to ``email``."""
        email = normalise_email(email)
        key = _throttle_key("password-reset-confirm", email)
        now = self._clock()
        state = self._store.get_throttle(key)
        self._refuse_if_throttled(state, now)
        found = Findings()
        found.check(self.password_policy.check, new_password, "new_password")
        token = found.check(self._usable_code, email, code, now)
        if token is None:
            after = self.policy.after_failure(state, now)
            self._store.save_throttle(key, after, self.policy.expires(after))
        found.raise_if_any()
        assert token is not None and token.user_id
        try:  # claimed before the password changes: a code sets a password once, even in a race
            self._store.put_token(OneTimeToken(_used_marker(token.token_hash), "password_reset", token.expires_at,
                                               user_id=token.user_id, used_at=now))
        except Conflict as exc:
            raise ValidationFailed("This code has already been used.", field="code") from exc
        self._identity.set_password(token.user_id, new_password)
        for throttle in (key, signin_throttle_key(email)):
            self._store.clear_throttle(throttle)
        self._identity.sign_out_everywhere(email)
        record_account_event(self._journal(), self._store, "password_reset", token.user_id, actor=token.user_id,
                             details={"user_id": token.user_id, "email": email}, now=self._clock())

    def _usable_code(self, email: str, code: str, now: datetime) -> OneTimeToken:
        canonical = normalise_reset_code(code)
        user_id = self._store.user_id_for_email(email)
        token = self._store.get_token(reset_code_hash(user_id, canonical)) if user_id else None
        if token is None or token.purpose != "password_reset" or token.user_id != user_id:
            _refuse("This code is wrong for this address; check it, or ask for a new one (POST /v1/password-reset).",
                    "code")
        assert token is not None
        if self._store.get_token(_used_marker(token.token_hash)) is not None:
            _refuse("This code has already been used.", "code")
        if now >= token.expires_at:
            _refuse("This code has expired; ask for a new one (POST /v1/password-reset).", "code")
        return token

    # ---- helpers ----------------------------------------------------------------------------
    def _take(self, purpose: str, email: str) -> None:
        """Count one attempt for the address, or refuse it (429) while it must wait."""
        key = _throttle_key(purpose, email)
        now = self._clock()
        state = self._store.get_throttle(key)
        self._refuse_if_throttled(state, now)
        after = self.policy.after_failure(state, now)
        self._store.save_throttle(key, after, self.policy.expires(after))

    def _refuse_if_throttled(self, state, now: datetime) -> None:
        wait = self.policy.wait(state, now)
        if wait is not None:
            reason, seconds = wait
            detail = (f"too many password reset attempts: this address is locked; try again in {seconds} s"
                      if reason == "locked" else f"too many password reset attempts: wait {seconds} s")
            raise TooManyRequests(detail, field="email", retry_after=seconds)
