"""Runtime fixes for moto, applied by the embedded local stack before its moto server serves requests.

Local mode only: imports moto, which is never packaged into the Lambda.

moto 5.2.5 ``DynamoDBBackend.transact_write_items`` deep-copies every touched table once per item
in the transaction (to roll back if it is cancelled): a 100-item transaction on a 2,000-item table
takes seconds and the cost grows with the table and its (never trimmed) stream. The replacement
keeps moto's item loop as is, but records an undo entry per written item (a copy of that one item
and the stream length) and rolls back from it, so a call costs O(items in the transaction).
See docs/decisions/0002-moto-transact-write-patch.md.

moto 5.2.5's KMS ``Sign`` and ``Verify`` accept a message of any size, and with
``MessageType=DIGEST`` they hash the digest again (a signature AWS would never produce). AWS refuses
a message over 4,096 bytes, and with DIGEST a message that is not exactly the algorithm's digest
length, with a ``ValidationException`` (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html,
https://docs.aws.amazon.com/kms/latest/APIReference/API_Verify.html). The KMS patch enforces those
limits (``chalicelib.adapters.signing.check_kms_message``, which the local signer applies too) and
signs / verifies a DIGEST message as the digest it is, for ECDSA keys (RSA keys keep moto's
behaviour: Scellé has none). It is applied independently of the DynamoDB patch, with its own
fingerprints.

moto 5.2.5 serialises every answer through a generic, model-driven serializer that, for each
DynamoDB ``AttributeValue`` (one per attribute of every item returned), tries each of its ten
members under several spellings: a ``BatchGetItem`` of four account items cost more than the
conditional ``PutItem`` it precedes. The serializer patch writes an ``AttributeValue`` (a dict of
members, as moto's DynamoDB and DynamoDB Streams results hold it) directly, with the same output
as the generic path (strings as ``str``, binaries base64, maps and lists member by member); any
other value or shape still goes the generic way. Its own fingerprints; applied independently.
"""

from __future__ import annotations

import collections
import contextvars
import copy
import functools
import hashlib
import inspect
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import moto
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.core import serialize
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.kms.exceptions import ValidationException as KmsValidationException
from moto.kms.models import KmsBackend
from moto.kms.responses import KmsResponse
from moto.kms.utils import ECDSAPrivateKey, validate_signing_algorithm

from chalicelib.adapters.signing import MessageRefused, check_kms_message

_log = logging.getLogger(__name__)

# sha256 (first 16 hex digits) of inspect.getsource() of the function we replace and of every moto
# function whose side effects the undo log must know (which slots a write touches, what it appends
# to the stream). Any difference means moto changed: we refuse and leave moto as it is.
# Recorded against moto 5.2.5.
_EXPECTED_SOURCES: dict[tuple[type, str], str] = {
    (DynamoDBBackend, "transact_write_items"): "81db2cb7d94e39c9",
    (DynamoDBBackend, "get_item"): "290b95c46b38bc5a",
    (DynamoDBBackend, "get_keys_value"): "1f948797496ddc2c",
    (DynamoDBBackend, "put_item"): "f5d9a5042c77b89e",
    (DynamoDBBackend, "delete_item"): "083a4bb1af18f6fd",
    (DynamoDBBackend, "update_item"): "218984588dd689a5",
    (DynamoDBBackend, "get_table"): "a738146035fc206b",
    (Table, "get_item"): "b08e98fe37b7e583",
    (Table, "put_item"): "de23933013ef8426",
    (Table, "delete_item"): "1594f7b07616c8cb",
    (StreamShard, "add"): "357dc6da267e5dd7",
}

_MAX_TRANSACTION_ITEMS = 100
_PATCH_MARK = "__scelle_moto_patch__"

_apply_lock = threading.Lock()
# Serialises transactions with each other, so that one transaction's rollback cannot undo another's
# writes (moto itself has no lock at all here).
# One re-entrant lock for every DynamoDB item write: moto's backend is not thread-safe, and the
# threaded server would otherwise let two conditional puts of one key both pass their condition
# (one silently overwriting the other) — real DynamoDB never does. The transaction code calls
# the single-item methods, hence re-entrant.
class _FairRLock:
    """A re-entrant lock granted in arrival order. Python's own locks are not fair: a thread that
    loops on requests (the stream pump, a polling client) could starve every other one."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._queue: collections.deque[object] = collections.deque()

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            ticket = object()
            self._queue.append(ticket)
            while self._owner is not None or self._queue[0] is not ticket:
                self._cond.wait()
            self._queue.popleft()
            self._owner, self._depth = me, 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


_transaction_lock = _FairRLock()
_ATOMIC_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_original_writes: dict[str, Callable[..., Any]] = {}
# Reads race too: a Query iterating a partition while another thread inserts raises "dictionary
# changed size during iteration" (a 500 that boto3 retries). Every DynamoDB and DynamoDB Streams
# request is therefore handled one at a time, as one consistent service would.
_original_dispatch: dict[type, Callable[..., Any]] = {}
_original_transact_write_items: Callable[..., None] | None = None


def source_fingerprint(func: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]


def _unrecognised(sources: dict[tuple[type, str], str] | None = None) -> list[str]:
    """Names of the moto functions whose source differs from what the patch was written for."""
    mismatches = []
    for (owner, name), expected in (_EXPECTED_SOURCES if sources is None else sources).items():
        func = owner.__dict__.get(name)
        try:
            found = source_fingerprint(func) if callable(func) else None
        except (OSError, TypeError):  # no source available (zipped or compiled-only install)
            found = None
        if found != expected:
            mismatches.append(f"{owner.__name__}.{name}")
    return mismatches


def is_patched() -> bool:
    return getattr(DynamoDBBackend.__dict__["transact_write_items"], _PATCH_MARK, False)


def apply_moto_patches() -> bool:
    """Install the fixes into the moto imported in this process; True when they are all active.

    Idempotent. Call once before the in-process moto server (ThreadedMotoServer) handles its first
    request; it applies to existing and future backends alike (it patches the classes). If moto is
    not the code a fix was written for, it logs a warning and leaves that part of moto unchanged;
    the DynamoDB and the KMS fixes are checked and applied independently.
    """
    kms = apply_kms_patches()
    from chalicelib.local.aws_limits import apply_aws_limits  # DynamoDB limits moto does not enforce

    limits = apply_aws_limits()
    serializer = apply_serializer_patch()
    apply_object_lock_patch()
    return _apply_dynamodb_patches() and limits and kms and serializer


def _apply_dynamodb_patches() -> bool:
    global _original_transact_write_items
    with _apply_lock:
        if is_patched():
            return True
        mismatches = _unrecognised()
        if mismatches:
            _log.warning(
                "moto %s: not patching DynamoDB TransactWriteItems, unrecognised source of %s; "
                "moto's slow implementation stays in place. Review the patch against this moto, "
                "then update the fingerprints in %s.",
                moto.__version__,
                ", ".join(mismatches),
                __name__,
            )
            return False
        _original_transact_write_items = DynamoDBBackend.__dict__["transact_write_items"]
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
        for name in _ATOMIC_WRITES:
            _original_writes[name] = DynamoDBBackend.__dict__[name]
            setattr(DynamoDBBackend, name, _atomic(_original_writes[name]))
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            _original_dispatch[handler] = handler.call_action
            handler.call_action = _atomic(handler.call_action)  # type: ignore[method-assign]
        _log.info("moto %s: patched DynamoDB TransactWriteItems (undo log)", moto.__version__)
        return True


def remove_moto_patches() -> None:
    """Put moto's own implementation back (for tests and measurements)."""
    remove_object_lock_patch()
    remove_kms_patches()
    remove_serializer_patch()
    _remove_dynamodb_patches()


def _remove_dynamodb_patches() -> None:
    global _original_transact_write_items
    with _apply_lock:
        if is_patched() and _original_transact_write_items is not None:
            DynamoDBBackend.transact_write_items = _original_transact_write_items  # type: ignore[method-assign]
            _original_transact_write_items = None
            for name, original in _original_writes.items():
                setattr(DynamoDBBackend, name, original)
            _original_writes.clear()
            for handler, original in _original_dispatch.items():
                handler.call_action = original  # type: ignore[method-assign]
            _original_dispatch.clear()


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _transaction_lock:
            return method(self, *args, **kwargs)

    return locked


class UndoLog:
    """What a request is about to write, so that it can be taken back without table copies: a
    cancelled transaction here, a write refused for its size in ``aws_limits``."""

    def __init__(self) -> None:
        self._items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self._streams: dict[int, tuple[StreamShard, list[StreamRecord], int]] = {}

    def before_write(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> tuple[Table, Any, Any]:
        """Keep the item at ``key`` as it is now; returns (table, hash key, range key)."""
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
        shard = table.stream_shard
        if shard is not None and id(shard) not in self._streams:
            # Keep the list object itself: moto replaces it with [] after feeding a Lambda mapping.
            self._streams[id(shard)] = (shard, shard.items, len(shard.items))
        previous = table.get_item(hash_key, range_key)
        # A copy, because UpdateItem changes the stored Item in place.
        self._items.append((table, hash_key, range_key, copy.deepcopy(previous)))
        return table, hash_key, range_key

    def rollback(self) -> None:
        for table, hash_key, range_key, previous in reversed(self._items):
            slots: dict[Any, Any] = table.items if range_key is None else table.items[hash_key]
            slot_key = hash_key if range_key is None else range_key
            if previous is None:
                slots.pop(slot_key, None)
            else:
                slots[slot_key] = previous
        for shard, records, length in self._streams.values():
            del records[length:]
            shard.items = records


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > _MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    with _transaction_lock:
        undo = UndoLog()
        try:
            errors = _execute(self, transact_items, undo)
        except BaseException:
            undo.rollback()
            raise
        if any(code is not None for code, _, _ in errors):
            undo.rollback()
            raise TransactionCanceledException(errors)


_Errors = list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]]


def _execute(self: DynamoDBBackend, transact_items: list[dict[str, Any]], undo: UndoLog) -> _Errors:
    """moto 5.2.5's item loop, unchanged except for the undo entry taken before each write.

    It goes on after a failed item (so that every item gets its cancellation reason, in item order)
    and re-raises validation errors; the caller rolls back in both cases.
    """
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: _Errors = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                undo.before_write(self, table_name, key)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:
            errors.append((type(e).__name__, str(e), original_item))
    return errors


setattr(_transact_write_items, _PATCH_MARK, True)


# ---- KMS: Sign / Verify message limits, and DIGEST messages signed as digests ---------------------

# Same rule as _EXPECTED_SOURCES: the functions wrapped or replaced, and those whose behaviour the
# wrappers rely on (the response reads Message, MessageType and SigningAlgorithm with _get_param,
# the backend hands the message unchanged to the key). Recorded against moto 5.2.5.
_KMS_EXPECTED_SOURCES: dict[tuple[type, str], str] = {
    (KmsResponse, "sign"): "e56219d6817b1c75",
    (KmsResponse, "verify"): "70500200fa3aa148",
    (KmsResponse, "_get_param"): "b92a3b4f98e22d0b",
    (KmsBackend, "sign"): "59b926da80ce0ec8",
    (KmsBackend, "verify"): "d230909592faab52",
    (ECDSAPrivateKey, "sign"): "9ee57a282ed5d431",
    (ECDSAPrivateKey, "verify"): "b9bd825955bd63dd",
}
_KMS_PATCHED = ((KmsResponse, "sign"), (KmsResponse, "verify"), (ECDSAPrivateKey, "sign"), (ECDSAPrivateKey, "verify"))
_original_kms: dict[tuple[type, str], Callable[..., Any]] = {}
# True while the current request (one thread of the moto server) has MessageType=DIGEST.
_kms_digest: contextvars.ContextVar[bool] = contextvars.ContextVar("scelle_kms_digest", default=False)


def kms_is_patched() -> bool:
    return getattr(KmsResponse.__dict__["sign"], _PATCH_MARK, False)


def apply_kms_patches() -> bool:
    """Install the KMS fix (idempotent); False, with a warning, when moto's source is not the one expected."""
    with _apply_lock:
        if kms_is_patched():
            return True
        mismatches = _unrecognised(_KMS_EXPECTED_SOURCES)
        if mismatches:
            _log.warning(
                "moto %s: not patching KMS Sign/Verify, unrecognised source of %s; the embedded KMS does not "
                "enforce the AWS message limits and signs DIGEST messages wrongly. Review the patch against this "
                "moto, then update the fingerprints in %s.",
                moto.__version__,
                ", ".join(mismatches),
                __name__,
            )
            return False
        replacements = {
            (KmsResponse, "sign"): _kms_limited,
            (KmsResponse, "verify"): _kms_limited,
            (ECDSAPrivateKey, "sign"): _ecdsa_sign_digest,
            (ECDSAPrivateKey, "verify"): _ecdsa_verify_digest,
        }
        for owner, name in _KMS_PATCHED:
            original = owner.__dict__[name]
            _original_kms[(owner, name)] = original
            setattr(owner, name, replacements[(owner, name)](original))
        _log.info("moto %s: patched KMS Sign/Verify (AWS message limits, DIGEST messages)", moto.__version__)
        return True


def remove_kms_patches() -> None:
    with _apply_lock:
        for (owner, name), original in _original_kms.items():
            setattr(owner, name, original)
        _original_kms.clear()


def _kms_limited(action: Callable[[KmsResponse], str]) -> Callable[[KmsResponse], str]:
    """Sign / Verify refuse what AWS refuses before anything else, then run moto's own handler."""

    @functools.wraps(action)
    def limited(self: KmsResponse) -> str:
        message = self._get_param("Message")
        if isinstance(message, str):  # as moto's handler does
            message = message.encode("utf-8")
        message_type = self._get_param("MessageType") or "RAW"
        try:
            check_kms_message(message or b"", message_type, self._get_param("SigningAlgorithm"))
        except MessageRefused as exc:
            raise KmsValidationException(str(exc)) from None
        token = _kms_digest.set(message_type == "DIGEST")
        try:
            return action(self)
        finally:
            _kms_digest.reset(token)

    setattr(limited, _PATCH_MARK, True)
    return limited


_ECDSA_HASHES = {"ECDSA_SHA_256": hashes.SHA256, "ECDSA_SHA_384": hashes.SHA384, "ECDSA_SHA_512": hashes.SHA512}


def _ecdsa_prehashed(signing_algorithm: str) -> ec.ECDSA:
    return ec.ECDSA(Prehashed(_ECDSA_HASHES[signing_algorithm]()))


def _ecdsa_sign_digest(original: Callable[..., bytes]) -> Callable[..., bytes]:
    @functools.wraps(original)
    def sign(self: ECDSAPrivateKey, message: bytes, signing_algorithm: str) -> bytes:
        if not _kms_digest.get():
            return original(self, message, signing_algorithm)
        validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
        return self.private_key.sign(message, _ecdsa_prehashed(signing_algorithm))

    return sign


def _ecdsa_verify_digest(original: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(original)
    def verify(self: ECDSAPrivateKey, message: bytes, signature: bytes, signing_algorithm: str) -> bool:
        if not _kms_digest.get():
            return original(self, message, signature, signing_algorithm)
        validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
        try:
            self.private_key.public_key().verify(signature, message, _ecdsa_prehashed(signing_algorithm))
            return True
        except InvalidSignature:
            return False

    return verify


# ---- Cognito: tokens signed with a key of our own ---------------------------------------------
# moto signs every Cognito token with one RSA key shipped inside its package
# (moto/cognitoidp/resources/jwks-private.json) and serves the matching public key as the JWKS of
# every pool: anyone with moto installed can mint a token, for any user of any tenant, that the
# local API would accept. The embedded stack signs with its own key instead (generated once per
# data directory, file mode 0600): each pool's ``json_web_key`` (what ``create_jwt`` signs with)
# is that key, and the JWKS ``serve_json_web_key`` answers (a class attribute it reads on every
# call) holds its public half. One key per process: moto's backends are process-wide.
# See docs/decisions/0015-local-mode-on-a-shared-machine.md.

# Fingerprints of the moto code this relies on (moto 5.2.5). A difference refuses to start: a
# changed moto could be signing with its public key again.
_COGNITO_SOURCES: dict[tuple[str, str], str] = {
    ("CognitoIdpUserPool", "create_jwt"): "73889b186eb2fa10",
    ("CognitoIdpJsonWebKeyResponse", "serve_json_web_key"): "ebc0d2c4eddb90eb",
}
COGNITO_KID = "dummy"  # the kid create_jwt writes into every token header
COGNITO_KEY_FILE = "cognito-signing.jwk.json"

_cognito_lock = threading.Lock()
_cognito_key: Any = None  # joserfc RSAKey, once installed
_moto_jwks: bytes | None = None  # moto's own JWKS document, to put back
_original_pool_init: Callable[..., None] | None = None


class UnsafeCognito(RuntimeError):
    """moto's Cognito is not the code the signing-key patch was written for: local tokens could
    be forgeable with the key in moto's package, so the embedded stack does not start."""


def _cognito_classes() -> dict[str, type]:
    from moto.cognitoidp.models import CognitoIdpUserPool
    from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse

    return {"CognitoIdpUserPool": CognitoIdpUserPool, "CognitoIdpJsonWebKeyResponse": CognitoIdpJsonWebKeyResponse}


def _check_cognito_sources() -> None:
    classes = _cognito_classes()
    mismatches = []
    for (owner, name), expected in _COGNITO_SOURCES.items():
        func = classes[owner].__dict__.get(name)
        func = getattr(func, "__func__", func)  # a staticmethod
        try:
            found = source_fingerprint(func) if callable(func) else None
        except (OSError, TypeError):
            found = None
        if found != expected:
            mismatches.append(f"{owner}.{name}")
    if mismatches:
        raise UnsafeCognito(
            f"moto {moto.__version__}: unrecognised source of {', '.join(mismatches)}; local Cognito tokens "
            f"might be signed with the private key shipped in moto's package (anyone could forge them). "
            f"Review the signing-key patch in {__name__} against this moto, then update its fingerprints."
        )


def load_or_create_cognito_key(path: Path) -> Any:
    """The RSA key in ``path`` (a private JWK), created there with mode 0600 on first use."""
    import json
    import os

    from joserfc import jwk

    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = jwk.RSAKey.generate_key(2048, parameters={"kid": COGNITO_KID, "alg": "RS256", "use": "sig"},
                                      private=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(key.as_dict(private=True), fh)
        except FileExistsError:
            pass  # created meanwhile by another process: use that one
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = jwk.RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    if not key.is_private:
        raise ValueError(f"{path}: not a private RSA key")
    return key


def _public_jwks(key: Any) -> bytes:
    import json

    public = {**key.as_dict(private=False), "kid": COGNITO_KID, "alg": "RS256", "use": "sig"}
    return json.dumps({"keys": [public]}).encode("utf-8")


def _every_pool() -> list[Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    pools = []
    # dict's own methods: BackendDict would create backends for every region on access.
    for _, regions in list(dict.items(cognitoidp_backends)):
        for _, backend in list(dict.items(regions)):
            pools += list(backend.user_pools.values())
    return pools


def use_cognito_signing_key(key: Any) -> Any:
    """Make every Cognito user pool of this process (existing and future) sign with ``key`` and
    serve its public half as JWKS; ``None`` puts moto's own key back. Returns the key in use
    before (None: moto's own)."""
    global _cognito_key, _moto_jwks, _original_pool_init
    classes = _cognito_classes()
    pool_cls, jwks_cls = classes["CognitoIdpUserPool"], classes["CognitoIdpJsonWebKeyResponse"]
    with _cognito_lock:
        if key is not None:
            _check_cognito_sources()
        previous = _cognito_key
        if _original_pool_init is None and key is not None:
            _moto_jwks = jwks_cls.json_web_key
            _original_pool_init = pool_cls.__init__

            @functools.wraps(_original_pool_init)
            def init(self: Any, *args: Any, **kwargs: Any) -> None:
                _original_pool_init(self, *args, **kwargs)  # type: ignore[misc]
                if _cognito_key is not None:
                    self.json_web_key = _cognito_key

            pool_cls.__init__ = init  # type: ignore[method-assign]
        _cognito_key = key
        if key is None:
            if _original_pool_init is not None:
                pool_cls.__init__ = _original_pool_init  # type: ignore[method-assign]
                jwks_cls.json_web_key = _moto_jwks
                _original_pool_init = None
        else:
            jwks_cls.json_web_key = _public_jwks(key)
        signing = cognito_signing_key()
        for pool in _every_pool():
            pool.json_web_key = signing
        return previous


def cognito_signing_key() -> Any:
    """The key user pools sign with in this process: the local one, else moto's own."""
    if _cognito_key is not None:
        return _cognito_key
    from joserfc import jwk
    from moto.utilities.utils import load_resource

    return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def secure_cognito_signing(key_file: Path | None) -> None:
    """Sign local Cognito tokens with the key kept in ``key_file`` (created on first use); without
    a file, with a key drawn for this process unless a local key is already in use. Raises
    UnsafeCognito when moto's code is not what this was written for."""
    from joserfc import jwk

    if key_file is not None:
        use_cognito_signing_key(load_or_create_cognito_key(key_file))
    elif _cognito_key is None:
        use_cognito_signing_key(
            jwk.RSAKey.generate_key(2048, parameters={"kid": COGNITO_KID, "alg": "RS256", "use": "sig"}, private=True)
        )


# ---- the response serializer: DynamoDB AttributeValues written directly ------------------------------
_SERIALIZER_EXPECTED_SOURCES: dict[tuple[type, str], str] = {
    (serialize.BaseJSONSerializer, "_serialize_type_structure"): "36873909cd0aeb4d",
    (serialize.ResponseSerializer, "_serialize_type_structure"): "f9b47068f40ce489",
    (serialize.ResponseSerializer, "_serialize_structure_member"): "437fdce43aa5ac84",
    (serialize.BaseJSONSerializer, "_serialize_type_map"): "faa32d1fa9a8bfc9",
    (serialize.BaseJSONSerializer, "_serialize_type_list"): "f87b14fe9166e099",
    (serialize.BaseJSONSerializer, "_serialize_type_string"): "44954e02145012ba",
    (serialize.ResponseSerializer, "_serialize_type_blob"): "acd7e746cf06090e",
    (serialize.ResponseSerializer, "_base64"): "5a3642d8c2a14b24",
    (serialize.ResponseSerializer, "_default_serialize"): "25ce8ddbb1a991c0",
    (serialize.ResponseSerializer, "get_serialized_name"): "2c23dcac85ccc396",
    (serialize.AttributePicker, "__call__"): "c15da8ec29c1afa4",
    (serialize.XFormedAttributePicker, "get_possible_keys"): "f0d20f55f37fd8a1",
}
_ATTRIBUTE_VALUE_SERVICES = frozenset({"dynamodb", "dynamodbstreams"})
_ATTRIBUTE_VALUE_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def serializer_is_patched() -> bool:
    return getattr(serialize.JSONSerializer.__dict__.get("_serialize_type_structure"), _PATCH_MARK, False)


def apply_serializer_patch() -> bool:
    """Install the AttributeValue fast path (idempotent); False, with a warning, when moto's
    serializer is not the one expected."""
    with _apply_lock:
        if serializer_is_patched():
            return True
        mismatches = _unrecognised(_SERIALIZER_EXPECTED_SOURCES)
        if "_serialize_type_structure" in serialize.JSONSerializer.__dict__:
            mismatches.append("JSONSerializer._serialize_type_structure")
        if mismatches:
            _log.warning(
                "moto %s: not patching the response serializer, unrecognised source of %s; DynamoDB items are "
                "serialised the slow way. Review the patch against this moto, then update the fingerprints in %s.",
                moto.__version__,
                ", ".join(mismatches),
                __name__,
            )
            return False
        original = serialize.BaseJSONSerializer._serialize_type_structure

        def structure(self, serialized, value, shape, key):
            if (shape.name == "AttributeValue" and key and type(value) is dict
                    and self.operation_model.service_model.service_name in _ATTRIBUTE_VALUE_SERVICES
                    and _ATTRIBUTE_VALUE_MEMBERS.issuperset(value)):
                try:
                    serialized[self.get_serialized_name(shape, key)] = _attribute_value(self, value)
                    return
                except _NotPlain:  # something the fast path does not know: the generic way, all of it
                    pass
            original(self, serialized, value, shape, key)

        setattr(structure, _PATCH_MARK, True)
        serialize.JSONSerializer._serialize_type_structure = structure  # type: ignore[method-assign]
        _log.info("moto %s: patched the response serializer (DynamoDB AttributeValues)", moto.__version__)
        return True


def remove_serializer_patch() -> None:
    with _apply_lock:
        if serializer_is_patched():
            del serialize.JSONSerializer._serialize_type_structure


def _attribute_value(serializer: Any, value: dict[str, Any]) -> dict[str, Any]:
    """What moto's generic JSON serializer writes for this AttributeValue: each member present and
    not None, strings through ``str``, binaries base64, maps and lists of AttributeValues in turn."""
    out: dict[str, Any] = {}
    for member, inner in value.items():
        if inner is None:
            continue
        if member in ("S", "N"):
            out[member] = inner if type(inner) is str else _json_string(inner)
        elif member in ("BOOL", "NULL"):
            out[member] = inner
        elif member == "B":
            out[member] = serializer._base64(inner)
        elif member in ("SS", "NS"):
            out[member] = [_json_string(one) for one in inner]
        elif member == "BS":
            out[member] = [serializer._base64(one) for one in inner]
        elif member == "M":
            out[member] = {name: _nested(serializer, one) for name, one in inner.items()}
        else:  # "L"
            out[member] = [_nested(serializer, one) for one in inner]
    return out


class _NotPlain(Exception):
    """A nested value that is not a plain AttributeValue dict."""


def _nested(serializer: Any, value: Any) -> dict[str, Any]:
    if type(value) is dict and _ATTRIBUTE_VALUE_MEMBERS.issuperset(value):
        return _attribute_value(serializer, value)
    raise _NotPlain


def _json_string(value: Any) -> Any:
    """BaseJSONSerializer._serialize_type_string."""
    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


# ---- S3 Object Lock: COMPLIANCE retention can be neither weakened nor shortened ------------------
# AWS: "In compliance mode, a protected object version can't be overwritten or deleted by any
# user, including the root user [...] its retention mode can't be changed, and its retention
# period can't be shortened." moto's PutObjectRetention sets whatever it is given: an outside
# trial turned an archived segment's COMPLIANCE lock into GOVERNANCE, then deleted the version
# with BypassGovernanceRetention — impossible on AWS, so the local write-once archive did not hold.
_original_put_object_retention: Callable[..., Any] | None = None


def apply_object_lock_patch() -> None:
    global _original_put_object_retention
    from moto.s3.models import S3Backend

    with _apply_lock:
        if _original_put_object_retention is None:
            _original_put_object_retention = S3Backend.__dict__["put_object_retention"]
            S3Backend.put_object_retention = _compliance_kept(_original_put_object_retention)  # type: ignore


def remove_object_lock_patch() -> None:
    global _original_put_object_retention
    from moto.s3.models import S3Backend

    with _apply_lock:
        if _original_put_object_retention is not None:
            S3Backend.put_object_retention = _original_put_object_retention  # type: ignore[method-assign]
            _original_put_object_retention = None


def _lock_instant(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def _compliance_kept(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_object_retention(self, bucket_name: str, key_name: str, version_id: str | None,
                             retention: tuple[str | None, str | None]) -> None:
        from moto.s3.exceptions import AccessDeniedByLock

        key = self.get_object(bucket_name, key_name, version_id=version_id)
        locked = key is not None and getattr(key, "lock_mode", None) == "COMPLIANCE"
        if locked and key.is_locked(governance_bypass=False):
            mode, until = retention
            new_until, old_until = _lock_instant(until), _lock_instant(key.lock_until)
            if mode != "COMPLIANCE" or new_until is None or (old_until is not None and new_until < old_until):
                raise AccessDeniedByLock
        return original(self, bucket_name, key_name, version_id, retention)

    return put_object_retention
