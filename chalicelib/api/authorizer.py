"""The custom authorizer: a valid Cognito bearer token, or no entry.

It only proves who the caller is. What the caller may do in a tenant is decided per request by
``AccessService`` from the membership table (see ``chalicelib.api.routing``).
"""

from __future__ import annotations

from chalice import AuthResponse, Blueprint

from chalicelib.domain.errors import Unauthenticated
from chalicelib.observability import logger

auth_bp = Blueprint(__name__)

_DENY = {"routes": [], "principal_id": "anonymous"}


@auth_bp.authorizer()
def jwt_authorizer(auth_request):
    from chalicelib import bootstrap

    scheme, _, token = (auth_request.token or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthResponse(**_DENY)
    try:
        principal = bootstrap.token_verifier().verify(token.strip())
    except Unauthenticated as exc:
        logger.info("token refused", extra={"reason": exc.detail})
        return AuthResponse(**_DENY)
    if _signed_out(token.strip()):
        logger.info("token refused", extra={"reason": "its session has been signed out"})
        return AuthResponse(**_DENY)
    return AuthResponse(
        routes=["*"],
        principal_id=principal.user_id,
        context={"email": principal.email, "username": principal.username},
    )


def _signed_out(token: str) -> bool:
    """True when the (verified) token's session was signed out (POST /v1/auth/signout)."""
    from chalicelib import bootstrap
    from chalicelib.services.signin import session_id

    sid = session_id(token)
    return bool(sid) and bootstrap.container().accounts_store.session_revoked(sid)
