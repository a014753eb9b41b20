"""The Cognito token check (adapters/jwt_tokens.py): signature, claims, and the cache of verified
tokens that spares an RSA verification per request, never past the token's expiry."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.jwt_tokens import CognitoTokenVerifier
from chalicelib.domain.errors import Unauthenticated

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
CLIENT = "client-1"


class _Jwks:
    """A PyJWKClient that knows one key and counts how often it is asked."""

    def __init__(self, public_key) -> None:
        self.asked = 0
        self._key = type("SigningKey", (), {"key": public_key})()

    def get_signing_key_from_jwt(self, token):
        self.asked += 1
        return self._key


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key, *, expires_in: int = 3600, **extra) -> str:
    now = int(time.time())
    claims = {"sub": "u-1", "iss": ISSUER, "iat": now, "exp": now + expires_in, "token_use": "access",
              "client_id": CLIENT, "username": "alice", "origin_jti": "session-1", **extra}
    return jwt.encode(claims, key, algorithm="RS256")


def _verifier(key):
    jwks = _Jwks(key.public_key())
    return CognitoTokenVerifier(issuer=ISSUER, jwks_url="unused", client_id=CLIENT, jwks_client=jwks), jwks


def test_a_valid_token_gives_its_subject_and_session(key):
    verifier, _ = _verifier(key)
    principal = verifier.verify(_token(key))
    assert (principal.user_id, principal.username, principal.session_id) == ("u-1", "alice", "session-1")


def test_the_same_token_is_verified_once_until_it_expires(key):
    verifier, jwks = _verifier(key)
    token = _token(key)
    assert verifier.verify(token) == verifier.verify(token) == verifier.verify(token)
    assert jwks.asked == 1


def test_an_expired_token_is_refused_and_a_cached_one_is_checked_again_once_it_expires(key, monkeypatch):
    verifier, jwks = _verifier(key)
    with pytest.raises(Unauthenticated):
        verifier.verify(_token(key, expires_in=-10))  # expired 10 s ago, beyond the 5 s leeway
    token = _token(key, expires_in=60)
    verifier.verify(token)
    verifier.verify(token)
    assert jwks.asked == 2  # the refused one, then this one once
    import chalicelib.adapters.jwt_tokens as module

    later = time.time() + 120  # past its expiry (and the leeway): the cache does not answer
    monkeypatch.setattr(module, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    monkeypatch.setattr(jwt.api_jwt, "datetime", _Frozen(later), raising=False)
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
    assert jwks.asked == 3


class _Frozen:
    """``datetime`` as PyJWT reads it, frozen at ``at`` (its expiry check uses ``datetime.now``)."""

    def __init__(self, at: float) -> None:
        from datetime import UTC, datetime

        self._now = datetime.fromtimestamp(at, UTC)
        self._real = datetime

    def now(self, tz=None):
        return self._now

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("claims", [{"client_id": "another-client"}, {"token_use": "refresh"}, {"iss": "https://evil"}])
def test_a_token_for_another_client_use_or_issuer_is_refused(key, claims):
    verifier, _ = _verifier(key)
    with pytest.raises(Unauthenticated):
        verifier.verify(_token(key, **claims))


def test_a_token_signed_by_another_key_is_refused_and_not_cached(key):
    verifier, _ = _verifier(key)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _token(other)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(forged)
    assert forged not in verifier._verified
