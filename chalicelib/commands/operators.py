"""``scelle operator add EMAIL`` and ``scelle operator list``: platform operators from the command
line (no HTTP route makes one; docs/operations.md, "Platform operators").

Both go through ``AccountsService`` as the demo seeding does (``chalicelib/local/demo.py``), on
whatever the ``SCELLE_*`` settings point at: on AWS the stage's Cognito pool and accounts table
(with the caller's AWS credentials), locally a running ``scelle local`` (its emulator URL in
``SCELLE_AWS_ENDPOINT_URL``; the pool ids are read from ``<data dir>/local-state.json``).

A new operator gets a generated password, printed once and stored nowhere by Scellé (Cognito
keeps only its hash); an existing verified account that is an active member of no tenant is
flagged instead and keeps its password.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from chalicelib.config import ConfigError, Settings

EXIT_OK, EXIT_REFUSED, EXIT_CONFIG = 0, 1, 2


def cli_settings(settings: Settings | None = None) -> Settings:
    """The settings the command works on: ``settings``, else the ``SCELLE_*`` environment, with
    the local pool ids filled in from the data directory. Raises ConfigError when incomplete."""
    from chalicelib.config import load_settings

    s = settings or load_settings()
    if s.mode == "local":
        if not s.aws_endpoint_url:
            raise ConfigError(
                "local mode: start `scelle local` and set SCELLE_AWS_ENDPOINT_URL to the 'AWS emulator' URL "
                "of its banner (or set SCELLE_MODE=aws to work on a deployed stage)"
            )
        if not (s.user_pool_id and s.user_pool_client_id):
            state = s.data_dir / "local-state.json"
            try:
                saved = json.loads(state.read_text())
            except (OSError, ValueError):
                saved = {}
            s = s.model_copy(
                update={
                    "user_pool_id": s.user_pool_id or saved.get("user_pool_id"),
                    "user_pool_client_id": s.user_pool_client_id or saved.get("user_pool_client_id"),
                }
            )
    if not (s.user_pool_id and s.user_pool_client_id):
        raise ConfigError("SCELLE_USER_POOL_ID and SCELLE_USER_POOL_CLIENT_ID must be set (the stage's Cognito pool)")
    return s


def _accounts(settings: Settings | None):
    from chalicelib import bootstrap

    # A container of its own: the command never replaces the process-wide one.
    return bootstrap.Container(cli_settings(settings)).accounts


def operator_add(
    email: str, settings: Settings | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Create (or flag) the operator ``email``; print the outcome, and a new account's password once."""
    from chalicelib.domain.errors import ScelleError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        added = _accounts(settings).add_operator(email)
    except ConfigError as exc:
        print(f"scelle operator add: {exc}", file=err)
        return EXIT_CONFIG
    except ScelleError as exc:
        print(f"scelle operator add: refused: {exc.detail}", file=err)
        return EXIT_REFUSED
    user = added.user
    if added.outcome == "created":
        print(f"Platform operator created: {user.email} (user {user.user_id})", file=out)
        print(f"Password (shown once, stored nowhere): {added.password}", file=out)
        print("Hand it over through a secure channel; sign in with POST /v1/auth/signin.", file=out)
    elif added.outcome == "flagged":
        print(f"Existing account flagged as platform operator: {user.email} (user {user.user_id}); "
              "it keeps its password.", file=out)
    else:
        print(f"Already a platform operator: {user.email} (user {user.user_id}); nothing changed.", file=out)
    return EXIT_OK


def operator_list(settings: Settings | None = None, *, as_json: bool = False, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    """Print every platform operator (email, user id, verified, created)."""
    from chalicelib.domain.errors import ScelleError

    out, err = out or sys.stdout, err or sys.stderr
    try:
        operators = _accounts(settings).operators()
    except ConfigError as exc:
        print(f"scelle operator list: {exc}", file=err)
        return EXIT_CONFIG
    except ScelleError as exc:
        print(f"scelle operator list: {exc.detail}", file=err)
        return EXIT_REFUSED
    rows = [
        {
            "email": u.email,
            "user_id": u.user_id,
            "email_verified": u.email_verified,
            "created_at": u.created_at.isoformat().replace("+00:00", "Z") if u.created_at else None,
        }
        for u in operators
    ]
    if as_json:
        print(json.dumps({"operators": rows}, indent=1), file=out)
    elif not rows:
        print("No platform operator.", file=out)
    else:
        for row in rows:
            print(f"{row['email']}\t{row['user_id']}\tverified={str(row['email_verified']).lower()}\t"
                  f"created={row['created_at'] or '-'}", file=out)
    return EXIT_OK


def register_cli(subparsers) -> None:
    parser = subparsers.add_parser("operator", help="platform operators (support, news, mailings): add, list")
    sub = parser.add_subparsers(dest="operator_command", required=True)
    add = sub.add_parser("add", help="create a platform operator (prints its password once), or flag an "
                                     "existing account that belongs to no tenant")
    add.add_argument("email")
    add.set_defaults(func=lambda args: operator_add(args.email))
    listing = sub.add_parser("list", help="list the platform operators")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=lambda args: operator_list(as_json=args.json))

