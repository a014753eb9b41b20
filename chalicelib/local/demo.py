"""Demo accounts for ``scelle local``: seeded on first start, reused afterwards.

A verified admin (demo@scelle.local) of a Belgian demo tenant in test mode, a seller of that
tenant, and a platform operator. Passwords are random, kept in ``<data dir>/demo.json`` (mode
0600) and shown in the start banner. Seeding goes through the same services as the HTTP API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chalicelib.observability import logger

ADMIN_EMAIL = "demo@scelle.local"
SELLER_EMAIL = "seller@scelle.local"
OPERATOR_EMAIL = "operator@scelle.local"
# A made-up enterprise number with valid check digits (0999.999.9xx style, not a real company).
_FIRST8 = "09999999"
DEMO_COMPANY_NUMBER = _FIRST8 + f"{97 - int(_FIRST8) % 97:02d}"


def ensure_demo_account(stack) -> list[str]:
    """Seed the demo accounts once (idempotent) and return the banner lines about them."""
    path = Path(stack.data_dir) / "demo.json"
    try:
        demo = _load(path)
        if demo is None or not _present(demo):
            demo = _seed(path, demo)
    except Exception:
        logger.exception("demo accounts could not be seeded")
        return ["Sign up        POST /v1/signup (demo accounts could not be seeded; see the log)"]
    return _banner(demo, path)


def _load(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _present(demo: dict[str, Any]) -> bool:
    from chalicelib import bootstrap

    store = bootstrap.container().accounts_store
    return bool(
        store.get_tenant(demo.get("tenant_id", ""))
        and all(store.user_id_for_email(e) for e in (ADMIN_EMAIL, SELLER_EMAIL, OPERATOR_EMAIL))
        and all(demo.get(role) for role in ("admin", "seller", "operator"))
    )


def _seed(path: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Create what is missing, saving ``demo.json`` after each step (a crash never strands one)."""
    from chalicelib import bootstrap
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from chalicelib.services.accounts import SignUp

    root = bootstrap.container()
    accounts, store = root.accounts, root.accounts_store
    demo = dict(previous or {})

    def password(role: str) -> str:
        return (demo.get(role) or {}).get("password") or accounts.password_policy.generate()

    if not (demo.get("tenant_id") and store.get_tenant(demo["tenant_id"]) and store.user_id_for_email(ADMIN_EMAIL)):
        if store.user_id_for_email(ADMIN_EMAIL):
            raise RuntimeError(
                f"{ADMIN_EMAIL} exists but {path} does not describe it; remove the data directory to start afresh"
            )
        admin_pw = password("admin")
        result = accounts.signup(
            SignUp(
                email=ADMIN_EMAIL,
                password=admin_pw,
                company_name="Scellé Demo SRL",
                country="BE",
                company_number=DEMO_COMPANY_NUMBER,
                vat_number="BE" + DEMO_COMPANY_NUMBER,
                address_line1="Rue de la Démo 1",
                address_postal_code="1000",
                address_city="Bruxelles",
            )
        )
        accounts.verify_email(result.verification_token)
        demo.update(tenant_id=result.tenant.tenant_id, admin={"email": ADMIN_EMAIL, "password": admin_pw})
        _write_private(path, demo)
    if not store.user_id_for_email(SELLER_EMAIL):
        seller_pw = password("seller")
        admin_id = store.user_id_for_email(ADMIN_EMAIL) or ""
        admin = Caller(Principal(admin_id, ADMIN_EMAIL), demo["tenant_id"], Role.ADMIN)
        invitation = accounts.invite(admin, SELLER_EMAIL, Role.SELLER)
        accounts.accept_invitation(invitation.token, seller_pw)
        demo["seller"] = {"email": SELLER_EMAIL, "password": seller_pw}
        _write_private(path, demo)
    if not store.user_id_for_email(OPERATOR_EMAIL):
        operator_pw = password("operator")
        accounts.create_operator(OPERATOR_EMAIL, operator_pw)
        demo["operator"] = {"email": OPERATOR_EMAIL, "password": operator_pw}
        _write_private(path, demo)
    return demo


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    os.chmod(path, 0o600)


def _banner(demo: dict[str, Any], path: Path) -> list[str]:
    admin, seller, operator = demo["admin"], demo.get("seller", {}), demo.get("operator", {})
    lines = [
        f"Sign in        {admin['email']} / {admin['password']}  (POST /v1/auth/signin)",
        f"Demo tenant    {demo['tenant_id']}  (Belgian company, test mode: training data)",
    ]
    if seller:
        lines.append(f"Seller         {seller['email']} / {seller['password']}")
    if operator:
        lines.append(f"Operator       {operator['email']} / {operator['password']}  (support and news only)")
    lines.append(f"Credentials    {path}  (mail sent locally: {path.parent / 'outbox.jsonl'})")
    return lines
