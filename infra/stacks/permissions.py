"""Least privilege, declared per function: which actions each Lambda may take on which resource.

One role per function. A function that ``app.py`` registers but that is not listed here gets a
logs-only role (and a synth warning) until someone declares what it uses. Two invariants are
checked here at synth time and again, on the synthesized template, by tests/infra:

* no function may mutate an item of an append-only table (``ITEM_MUTATIONS``);
* only ``SIGNERS`` may call ``kms:Sign``.

docs/security.md explains each grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.resources import RESOURCES
from infra.stacks.data import ITEM_MUTATIONS

READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
SCAN = ("dynamodb:Scan",)
APPEND = ("dynamodb:PutItem",)  # conditional put / TransactWriteItems Put, never an overwrite path
READ_APPEND = READ + APPEND
READ_WRITE = (
    *READ,
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)

OBJECT_READ = ("s3:GetObject",)
OBJECT_WRITE = ("s3:PutObject",)
LIST = ("s3:ListBucket",)
ARCHIVER = OBJECT_READ + OBJECT_WRITE + LIST  # head before put: an archived record is never rewritten

SIGN = ("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey")
PUBLIC_KEY = ("kms:GetPublicKey", "kms:Verify", "kms:DescribeKey")
ENCRYPT = ("kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey")
DECRYPT = ("kms:Decrypt", "kms:DescribeKey")

# Who may sign: the API (seals entries, on-demand checkpoints and closures), the checkpoint
# signer, the period closer, and the export builder (manifest signature).
SIGNERS = frozenset({"api_handler", "sign_checkpoints", "close_periods", "build_export"})


@dataclass(frozen=True)
class Grants:
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # bucket -> object actions
    object_prefix: Mapping[str, str] = field(default_factory=dict)  # bucket -> key prefix (default: all)
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    send_mail: bool = False
    cognito: tuple[str, ...] = ()
    invoke: tuple[str, ...] = ()  # other handlers this one starts asynchronously


_OPS = {"ops": READ_WRITE}
_LEDGER_READ = {"journal": READ, "events": READ, "checkpoints": READ}

GRANTS: dict[str, Grants] = {
    "api_handler": Grants(
        tables={
            "journal": READ_APPEND,
            "events": READ_APPEND,
            "checkpoints": READ_APPEND,
            "accounts": READ_WRITE,
            "idempotency": READ_WRITE,
            "support": READ_WRITE,
            **_OPS,
        },
        objects={"exports": OBJECT_READ, "support": OBJECT_READ + OBJECT_WRITE},
        keys={"signing": SIGN},
        send_mail=True,
        cognito=(
            "cognito-idp:AdminGetUser",
            "cognito-idp:AdminConfirmSignUp",
            "cognito-idp:AdminDisableUser",
            "cognito-idp:AdminEnableUser",
            "cognito-idp:AdminUserGlobalSignOut",
            "cognito-idp:AdminUpdateUserAttributes",
            "cognito-idp:AdminDeleteUser",
        ),
        invoke=("build_export", "send_mailing"),
    ),
    "jwt_authorizer": Grants(),  # verifies tokens against the pool's public JWKS: no AWS call
    "on_journal_record": Grants(
        tables={"journal": READ, "events": READ_APPEND, "checkpoints": READ, **_OPS},
        objects={"archive": ARCHIVER},
        keys={"data": ENCRYPT, "signing": PUBLIC_KEY},
    ),
    "on_events_record": Grants(
        tables={"events": READ_APPEND, **_OPS},
        objects={"archive": ARCHIVER},
        keys={"data": ENCRYPT, "signing": PUBLIC_KEY},
    ),
    "on_checkpoint_record": Grants(
        tables={"checkpoints": READ, "events": READ_APPEND, **_OPS},
        objects={"archive": ARCHIVER},
        keys={"data": ENCRYPT, "signing": PUBLIC_KEY},
    ),
    "sign_checkpoints": Grants(
        tables={"journal": READ, "events": READ, "checkpoints": READ_APPEND, **_OPS},
        keys={"signing": SIGN},
    ),
    "close_periods": Grants(
        tables={
            "journal": READ_APPEND,
            "events": READ_APPEND,
            "checkpoints": READ_APPEND,
            "accounts": READ,
            **_OPS,
        },
        keys={"signing": SIGN},
    ),
    "verify_chains": Grants(
        tables={
            "journal": READ + SCAN,
            "events": READ_APPEND + SCAN,
            "checkpoints": READ + SCAN,
            "accounts": READ,
            **_OPS,
        },
        objects={"archive": OBJECT_READ + LIST},
        keys={"signing": PUBLIC_KEY, "data": DECRYPT},
    ),
    "check_ticket_sla": Grants(
        tables={"support": READ_WRITE, "accounts": READ, **_OPS},
        send_mail=True,
    ),
    "build_export": Grants(
        tables={**_LEDGER_READ, "events": READ_APPEND, "accounts": READ, **_OPS},
        objects={"exports": OBJECT_READ + OBJECT_WRITE, "archive": OBJECT_READ + LIST},
        keys={"signing": SIGN, "data": DECRYPT},
    ),
    "send_mailing": Grants(
        tables={"accounts": READ + SCAN, "support": READ_WRITE, **_OPS},
        send_mail=True,
    ),
    "inbound_mail": Grants(
        tables={"support": READ_WRITE, "accounts": READ, "events": READ_APPEND, **_OPS},
        objects={"support": OBJECT_READ},
        object_prefix={"support": "inbound/"},
        send_mail=True,
    ),
}


class GrantError(ValueError):
    """A declared grant breaks one of the stack's invariants."""


def check_grants(grants: Mapping[str, Grants]) -> None:
    """Refuse, at synth time, a grant that breaks append-only or the signer list."""
    append_only = {t.logical for t in RESOURCES.tables if t.append_only}
    known_tables = {t.logical for t in RESOURCES.tables}
    known_buckets = {b.logical for b in RESOURCES.buckets}
    known_keys = {k.logical for k in RESOURCES.keys}
    for name, grant in grants.items():
        for table, actions in grant.tables.items():
            if table not in known_tables:
                raise GrantError(f"{name}: unknown table {table!r}")
            bad = set(actions) & set(ITEM_MUTATIONS)
            if table in append_only and bad:
                raise GrantError(f"{name}: {sorted(bad)} on append-only table {table!r}")
            if any("*" in a or "PartiQL" in a for a in actions):
                raise GrantError(f"{name}: wildcard or PartiQL action on {table!r}")
        if not set(grant.objects) <= known_buckets:
            raise GrantError(f"{name}: unknown bucket in {sorted(grant.objects)}")
        if not set(grant.keys) <= known_keys:
            raise GrantError(f"{name}: unknown key in {sorted(grant.keys)}")
        signs = any("kms:Sign" in actions for actions in grant.keys.values())
        if signs and name not in SIGNERS:
            raise GrantError(f"{name}: kms:Sign is reserved to {sorted(SIGNERS)}")


check_grants(GRANTS)
