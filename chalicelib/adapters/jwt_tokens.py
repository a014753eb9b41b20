"""Verifies Cognito-issued JWTs with PyJWT against the pool's JWKS (fetched once, cached).

Checks signature (RS256), issuer, expiry, token use and client id. Works the same on AWS and on
the embedded moto server; only the JWKS URL differs.
"""

from __future__ import annotations

import time

import jwt

from chalicelib.domain.errors import Unauthenticated
from chalicelib.domain.identity import Principal

VERIFIED_CACHE_SIZE = 4096


class CognitoTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        client_id: str,
        jwks_client: jwt.PyJWKClient | None = None,
        leeway_seconds: int = 5,
    ) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self._leeway = leeway_seconds
        self._jwks = jwks_client or jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)
        # Verified tokens until they expire: a till sends the same token with every sale, and an
        # RSA check per request is CPU that API Gateway's authorizer cache spares it on AWS too.
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1] + self._leeway:
            return known[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()  # bounded; rebuilt by the next requests
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthenticated(f"the token's signing keys cannot be fetched: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        token_use = claims.get("token_use")
        if token_use == "access":  # noqa: S105 (a claim value, not a secret)
            audience = claims.get("client_id")
        elif token_use == "id":  # noqa: S105
            audience = claims.get("aud")
        else:
            raise Unauthenticated(f"invalid token: token_use {token_use!r} is neither access nor id")
        if audience != self._client_id:
            raise Unauthenticated("invalid token: issued for another client")
        principal = Principal(
            user_id=claims["sub"],
            email=claims.get("email", ""),
            username=claims.get("username") or claims.get("cognito:username", ""),
            # the sign-in session (POST /v1/auth/signout ends it): Cognito's origin_jti
            session_id=claims.get("origin_jti") or claims.get("jti") or "",
        )
        return principal, float(claims["exp"])
