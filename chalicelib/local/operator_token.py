"""The local operator credential of ``scelle local``: what the ``/v1/local/*`` routes require.

Those routes serve every tenant's mail (verification, invitation and auditor-grant tokens) and
drop email into support as any sender: on a shared machine, anyone who can reach 127.0.0.1 could
use them. ``scelle local`` therefore draws a new random token at every start, writes it to
``<data dir>/local-operator.token`` (mode 0600: readable by the account that runs the stack only)
and prints it in its banner; a request to ``/v1/local/*`` must carry it as
``Authorization: Bearer <token>``. The route reads the file on each request, so the token of the
running stack is the only one accepted, and a missing or empty file refuses everything.

Standard library only: the API imports this in local mode, and it is harmless anywhere else.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

TOKEN_FILE = "local-operator.token"  # noqa: S105 (a file name)
_MIN_LENGTH = 32


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def issue(data_dir: Path) -> str:
    """Draw a new token, write it to ``<data_dir>/local-operator.token`` (0600, atomically:
    a reader never sees half a token) and return it. The previous token stops working."""
    path = token_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(token + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return token


def read(data_dir: Path) -> str | None:
    """The token of the stack that uses ``data_dir``, or None (no stack started there yet)."""
    try:
        token = token_path(data_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token if len(token) >= _MIN_LENGTH else None


def presented(headers: Mapping[str, str]) -> str | None:
    """The bearer token of a request's ``Authorization`` header, if any."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        return None
    scheme, _, credential = value.strip().partition(" ")
    return (credential.strip() or None) if scheme.lower() == "bearer" else None


def is_local_operator(headers: Mapping[str, str], data_dir: Path) -> bool:
    expected = read(data_dir)
    given = presented(headers)
    if expected is None or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))
