"""The custom authorizer: a valid Cognito bearer token, or no entry.

It only proves who the caller is. What the caller may do in a tenant, and whether its session was
signed out, is decided per request by ``AccessService`` from the accounts table (see
``chalicelib.api.routing``).
"""

from __future__ import annotations

from chalice import AuthResponse, Blueprint

from chalicelib.domain.errors import Unauthenticated
from chalicelib.observability import logger
from chalicelib.wiring import Service, inject

auth_bp = Blueprint(__name__)

_DENY = {"routes": [], "principal_id": "anonymous"}


@auth_bp.authorizer()
@inject
def jwt_authorizer(auth_request, *, token_verifier=Service("token_verifier")):
    scheme, _, token = (auth_request.token or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return AuthResponse(**_DENY)
    try:
        principal = token_verifier.verify(token.strip())
    except Unauthenticated as exc:
        logger.info("token refused", extra={"reason": exc.detail})
        return AuthResponse(**_DENY)
    # A signed-out session is refused by the access check (services/access.py), read with the
    # membership: no AWS call here, and nothing that API Gateway's cache of this answer could keep.
    return AuthResponse(
        routes=["*"],
        principal_id=principal.user_id,
        context={"email": principal.email, "username": principal.username, "session_id": principal.session_id},
    )
