"""Cognito user pools of the in-process moto server, kept across local restarts. Local mode only.

moto keeps nothing across restarts, and the Cognito API cannot export users with their passwords,
so this reads and writes moto's cognito-idp backend objects directly (the local stack runs moto's
server in this process). Plain pickle does not work: every pool holds moto's RSA signing key as a
``cryptography`` private key, which cannot be pickled. The state is therefore written as JSON: each
moto model object as its class name and attributes (datetimes, tuples, sets and enums tagged), and
rebuilt without calling the constructors, which would draw new ids.

Kept: every user pool of every account and region (ids, ARNs, configuration, schema, clients with
their secrets, users with passwords, status, enabled flag and attributes, groups and memberships,
identity providers, resource servers, issued tokens) and user pool domains. Not kept: in-flight
auth challenge sessions, nor the signing key: every pool signs with the key this process uses
(``moto_patches.cognito_signing_key()``: the local stack's own key, kept in its data directory,
never the public one in moto's package), and the issuer is derived from region and pool id, so
tokens issued before a restart still verify after it.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import moto
from moto.cognitoidp import models as cognito

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

FORMAT_VERSION = 1

_MODELS: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        cognito.CognitoIdpUserPool,
        cognito.CognitoIdpUserPoolAttribute,
        cognito.CognitoIdpUserPoolClient,
        cognito.CognitoIdpUserPoolDomain,
        cognito.CognitoIdpIdentityProvider,
        cognito.CognitoIdpGroup,
        cognito.CognitoIdpUser,
        cognito.CognitoResourceServer,
    )
}
_ENUMS: dict[str, type[enum.Enum]] = {cls.__name__: cls for cls in (cognito.UserStatus, cognito.AuthFlow)}
_NOT_SERIALISED: dict[str, set[str]] = {
    "CognitoIdpUserPool": {"json_web_key"},  # the process's signing key, set again on load
    "CognitoIdpGroup": {"users"},  # memberships link both ways: saved once, as group_members
    "CognitoIdpUser": {"groups"},
}


def save_cognito_state(path: Path) -> None:
    """Write every Cognito user pool of moto's backends to ``path`` (atomically; mode 0600).

    Call at shutdown, before stopping moto's server or after, and periodically if wanted. moto has
    no lock to take: while requests are served, every container is copied (atomically, under the
    GIL) before it is walked, so a save never fails on a concurrent change, but may catch a request
    half-way (the next save catches up).
    """
    accounts: dict[str, dict[str, Any]] = {}
    for account_id, regions in list(dict.items(cognito.cognitoidp_backends)):
        for region, backend in list(dict.items(regions)):
            if backend.user_pools:
                accounts.setdefault(account_id, {})[region] = {
                    "user_pools": [_dump_pool(pool) for pool in list(backend.user_pools.values())],
                    "user_pool_domains": [_encode(d) for d in list(backend.user_pool_domains.values())],
                }
    document = {"format": FORMAT_VERSION, "moto_version": moto.__version__, "accounts": accounts}
    _write_atomically(path, json.dumps(document, indent=1).encode("utf-8"))


def load_cognito_state(path: Path) -> None:
    """Put the user pools saved in ``path`` back into moto's backends (same ids, keys and passwords).

    Call after the in-process moto server has started (and its signing key is chosen) and before
    it serves Cognito requests. No-op
    when the file does not exist. A file written by another moto version is not loaded (warning):
    its objects could lack attributes the new moto expects.
    """
    if not path.exists():
        return
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT_VERSION or document.get("moto_version") != moto.__version__:
        _log.warning(
            "Not loading Cognito state %s: written by moto %s (format %s), running moto %s; "
            "the local user pools must be created again",
            path,
            document.get("moto_version"),
            document.get("format"),
            moto.__version__,
        )
        return
    from chalicelib.local.moto_patches import cognito_signing_key

    signing_key = cognito_signing_key()
    for account_id, regions in document["accounts"].items():
        for region, state in regions.items():
            backend = cognito.cognitoidp_backends[account_id][region]
            for entry in state["user_pools"]:
                pool = _decoded(entry["pool"], cognito.CognitoIdpUserPool)
                pool.json_web_key = signing_key
                _link_groups(pool, entry["group_members"])
                backend.user_pools[pool.id] = pool
            for domain_state in state["user_pool_domains"]:
                domain = _decoded(domain_state, cognito.CognitoIdpUserPoolDomain)
                backend.user_pool_domains[domain.domain] = domain


def _dump_pool(pool: cognito.CognitoIdpUserPool) -> dict[str, Any]:
    user_keys = {id(user): key for key, user in list(pool.users.items())}
    members = {
        name: sorted(user_keys[id(u)] for u in list(group.users) if id(u) in user_keys)
        for name, group in list(pool.groups.items())
    }
    return {"pool": _encode(pool), "group_members": members}


def _link_groups(pool: cognito.CognitoIdpUserPool, group_members: dict[str, list[str]]) -> None:
    for user in pool.users.values():
        user.groups = set()
    for name, group in pool.groups.items():
        group.users = {pool.users[key] for key in group_members.get(name, []) if key in pool.users}
        for user in group.users:
            user.groups.add(group)


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before str: moto's enums are str subclasses
        if _ENUMS.get(type(value).__name__) is not type(value):
            raise TypeError(f"cannot persist enum {type(value)!r}")
        return {"$enum": type(value).__name__, "value": value.value}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    # Containers are copied with list()/dict() first: another thread may be changing them.
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"$set": [_encode(v) for v in list(value)]}
    if isinstance(value, list):
        return [_encode(v) for v in list(value)]
    if isinstance(value, dict):
        items = list(value.items())
        if not all(isinstance(k, str) for k, _ in items):
            raise TypeError("cannot persist a dict with non-string keys")
        encoded = {k: _encode(v) for k, v in items}
        return {"$dict": encoded} if any(k.startswith("$") for k in encoded) else encoded
    name = type(value).__name__
    if _MODELS.get(name) is type(value):
        skipped = _NOT_SERIALISED.get(name, set())
        state = {k: _encode(v) for k, v in list(vars(value).items()) if k not in skipped}
        return {"$model": name, "state": state}
    # A moto upgrade added state we do not know: fail loudly rather than save a partial copy.
    raise TypeError(f"cannot persist {type(value)!r} found in moto's Cognito state")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$tuple" in value:
        return tuple(_decode(v) for v in value["$tuple"])
    if "$set" in value:
        return {_decode(v) for v in value["$set"]}
    if "$enum" in value:
        return _ENUMS[value["$enum"]](value["value"])
    if "$dict" in value:
        return {k: _decode(v) for k, v in value["$dict"].items()}
    if "$model" in value:
        cls = _MODELS[value["$model"]]
        obj = cls.__new__(cls)
        obj.__dict__.update({k: _decode(v) for k, v in value["state"].items()})
        return obj
    return {k: _decode(v) for k, v in value.items()}


def _decoded(value: Any, expected: type[_T]) -> _T:
    obj = _decode(value)
    if not isinstance(obj, expected):
        raise ValueError(f"Cognito state: expected a {expected.__name__}, found {type(obj).__name__}")
    return obj


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600, which suits a file holding passwords.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
