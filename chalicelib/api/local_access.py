"""The guard of the local-mode routes (``/v1/local/*``): the local operator credential.

See ``chalicelib/local/operator_token.py``: the token ``scelle local`` writes to
``<data dir>/local-operator.token`` and prints at start, sent as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from chalice import Response

from chalicelib.api import problems


def refusal(request, data_dir) -> Response | None:
    """None when ``request`` carries the local operator token; else the 401 problem to answer."""
    from chalicelib.local.operator_token import TOKEN_FILE, is_local_operator

    if is_local_operator(request.headers or {}, data_dir):
        return None
    return problems.problem(
        401,
        "unauthenticated",
        "Authentication required",
        f"local routes need the local operator token: send 'Authorization: Bearer <token>' with the token "
        f"that `scelle local` prints at start and keeps in <data dir>/{TOKEN_FILE}",
        headers={"WWW-Authenticate": 'Bearer realm="scelle-local"'},
    )
