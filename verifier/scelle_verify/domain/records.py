"""Sealed records (hash format version 1): fields, chain key, sealing and the record hash.

``hash = SHA-256(canonical_bytes(record without "hash"))`` and every other field is hashed. The
format is specified in ``docs/hash-format.md``; ``tests/vectors/hashing.json`` pins it.
"""

from __future__ import annotations

import copy
import hashlib
import operator
import re
from collections.abc import Collection, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scelle_verify.domain.canonical import (
    INT_MAX,
    CanonicalError,
    TrustedItem,
    canonical_bytes,
    encode_trusted,
    normalise,
)
from scelle_verify.domain.write_proofs import PROOF_ATTRIBUTES, WriteProof, stored_proof

HASH_VERSION = 1
GENESIS_PREV_HASH = "0" * 64
HASHED_FIELDS = (
    "hash_version",
    "tenant_id",
    "chain",
    "seq",
    "type",
    "recorded_at",
    "training",
    "data",
    "prev_hash",
)
RECORD_FIELDS = (*HASHED_FIELDS, "hash")
_RECORD_FIELD_SET = frozenset(RECORD_FIELDS)
STORAGE_ATTRIBUTES = frozenset({"pk", "sk", "ttl", *PROOF_ATTRIBUTES})
"""Item attributes that belong to the table, not to the record: never hashed.

``pk`` and ``sk`` are still checked against the record (``chain_key`` and ``seq``); the write
proof (``proof_key``, ``proof_mac``, decision 0022) is kept in ``SealedRecord.write_proof``."""

_DEFAULT_ALLOWED = _RECORD_FIELD_SET | STORAGE_ATTRIBUTES

MAX_NAME_LENGTH = 200

_HEX_DIGITS = "0123456789abcdef"
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z")
_FORBIDDEN_IN_NAME = re.compile(r"[#\x00-\x1f\x7f]")


class RecordError(CanonicalError):
    """An item is not a well-formed version-1 sealed record.

    ``reason`` is the verification reason code the problem maps to (``non_canonical`` unless
    said otherwise: ``bad_version``, ``wrong_chain``, ``out_of_order``).
    """

    code = "invalid-record"
    title = "Invalid sealed record"

    def __init__(self, detail: str, *, field: str | None = None, reason: str = "non_canonical") -> None:
        super().__init__(detail, field=field)
        self.reason = reason


def is_hash_hex(value: object) -> bool:
    """True when ``value`` is a str of exactly 64 lowercase hex digits."""
    # str.strip removes every hex digit from both ends: nothing may remain (faster than a regex).
    return type(value) is str and len(value) == 64 and not value.strip(_HEX_DIGITS)


# Names already found valid: a chain's records all repeat the same tenant and chain names, and
# checking them again for every record was a measurable share of verification time.
_VALID_NAMES: set[str] = set()
_VALID_TYPES: set[str] = set()  # likewise, record types found valid


def _check_name(value: object, name: str) -> str:
    if type(value) is str and value in _VALID_NAMES:
        return value
    if type(value) is not str or not value:
        raise RecordError(f"{name} must be a non-empty string, found {value!r}", field=name)
    if len(value) > MAX_NAME_LENGTH:
        raise RecordError(f"{name} is longer than {MAX_NAME_LENGTH} characters", field=name)
    if _FORBIDDEN_IN_NAME.search(value):
        raise RecordError(f"{name} {value!r} contains '#' or a control character", field=name)
    if len(_VALID_NAMES) < 10_000:  # bounded: a long-running process sees many tenants
        _VALID_NAMES.add(value)
    return value


def chain_key(tenant_id: str, chain: str) -> str:
    """The chain's partition key: ``TENANT#<tenant_id>#CHAIN#<chain>``.

    Requires non-empty names of at most 200 characters without ``#`` or control characters, so
    that the key can be split back unambiguously (``parse_chain_key``).
    """
    return f"TENANT#{_check_name(tenant_id, 'tenant_id')}#CHAIN#{_check_name(chain, 'chain')}"


def parse_chain_key(key: str) -> tuple[str, str]:
    """Split a chain key into ``(tenant_id, chain)``; raise ``RecordError`` if malformed."""
    parts = key.split("#") if type(key) is str else []
    if len(parts) != 4 or parts[0] != "TENANT" or parts[2] != "CHAIN":
        raise RecordError(f"chain key {key!r} is not TENANT#<tenant_id>#CHAIN#<chain>", field="chain_key")
    chain_key(parts[1], parts[3])
    return parts[1], parts[3]


def utc_timestamp(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds: ``2026-11-23T17:30:00.123456Z``.

    Requires a timezone-aware datetime (naive ones are refused with ``ValueError``: a naive time
    in a ledger is a bug, its zone is unknown).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("utc_timestamp needs a timezone-aware datetime")
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """Parse exactly the ``utc_timestamp`` format back to an aware UTC datetime.

    Anything else (no fraction, 3 digits, ``+00:00``, lowercase ``z``, Feb 30) is a ``ValueError``.
    """
    if type(text) is not str or _TIMESTAMP.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not an RFC 3339 UTC timestamp like 2026-11-23T17:30:00.123456Z")
    try:
        # The regex fixed the exact shape; the C parser checks the calendar (no 30 February).
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date and time: {exc}") from None


def _int_value(value: object, name: str) -> int:
    if type(value) is int:
        return value
    if type(value) is Decimal:
        try:
            numerator, denominator = value.as_integer_ratio()
        except (ValueError, OverflowError):
            denominator = 0
        if denominator == 1:
            return numerator
    raise RecordError(f"{name} must be an integer, found {value!r}", field=name)


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """One sealed entry of a chain. Construction validates every field.

    ``data`` is the record's own copy (integral ``Decimal`` values become ``int``); treat it as
    read-only. ``recomputed_hash`` is the SHA-256 of the canonical bytes taken at construction;
    ``intact`` says whether it equals the stored ``hash``.
    """

    hash_version: int
    tenant_id: str
    chain: str
    seq: int
    type: str
    recorded_at: str
    training: bool
    data: dict[str, Any]
    prev_hash: str
    hash: str
    recomputed_hash: str = field(init=False, repr=False, compare=False)
    # Who wrote it (decision 0022): not part of the hashed record, so not compared either.
    write_proof: WriteProof | None = field(default=None, repr=False, compare=False)
    # True when ``data`` was decoded by ``canonical.loads_trusted`` (no float can be in it) and
    # is handed over, never touched again: the type walk and the copy are skipped, which is
    # about half the cost of verifying a record. Everything else still is checked.
    trusted: InitVar[bool] = False
    # With ``trusted``: the SHA-256 of the record's canonical bytes when its decoder already has
    # them (``TrustedItem.canonical_hash``): the record is not encoded again.
    canonical_hash: InitVar[str | None] = None

    def __post_init__(self, trusted: bool, canonical_hash: str | None) -> None:
        if type(self.hash_version) is not int:
            raise RecordError(
                f"hash_version must be an integer, found {self.hash_version!r}", field="hash_version"
            )
        if self.hash_version != HASH_VERSION:
            raise RecordError(
                f"hash_version {self.hash_version} is not supported "
                f"(this code verifies version {HASH_VERSION})",
                field="hash_version",
                reason="bad_version",
            )
        _check_name(self.tenant_id, "tenant_id")
        _check_name(self.chain, "chain")
        if type(self.seq) is not int or not 1 <= self.seq <= INT_MAX:
            raise RecordError(f"seq must be an integer >= 1, found {self.seq!r}", field="seq")
        if type(self.type) is not str or self.type not in _VALID_TYPES:
            if type(self.type) is not str or not self.type or _FORBIDDEN_IN_NAME.search(self.type):
                raise RecordError(
                    f"type must be a non-empty string without '#', found {self.type!r}", field="type"
                )
            if len(_VALID_TYPES) < 1000:
                _VALID_TYPES.add(self.type)
        try:
            parse_timestamp(self.recorded_at)
        except ValueError as exc:
            raise RecordError(f"recorded_at: {exc}", field="recorded_at") from None
        if type(self.training) is not bool:
            raise RecordError(f"training must be true or false, found {self.training!r}", field="training")
        if type(self.data) is not dict:
            raise RecordError(f"data must be an object, found {type(self.data).__name__}", field="data")
        try:
            data = self.data if trusted else normalise(self.data, field="data")
        except CanonicalError as exc:
            raise RecordError(exc.detail, field=exc.field) from None
        if not is_hash_hex(self.prev_hash):
            raise RecordError(
                f"prev_hash must be 64 lowercase hex digits, found {self.prev_hash!r}", field="prev_hash"
            )
        if not is_hash_hex(self.hash):
            raise RecordError(f"hash must be 64 lowercase hex digits, found {self.hash!r}", field="hash")
        object.__setattr__(self, "data", data)
        if trusted and canonical_hash is not None:
            object.__setattr__(self, "recomputed_hash", canonical_hash)
            return
        try:
            encoded = encode_trusted(self._hashed(data))
        except CanonicalError as exc:  # an unpaired surrogate in a string
            raise RecordError(exc.detail, field=exc.field) from None
        object.__setattr__(self, "recomputed_hash", hashlib.sha256(encoded).hexdigest())

    def __hash__(self) -> int:
        return hash((self.tenant_id, self.chain, self.seq, self.hash))

    def _hashed(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "hash_version": self.hash_version,
            "tenant_id": self.tenant_id,
            "chain": self.chain,
            "seq": self.seq,
            "type": self.type,
            "recorded_at": self.recorded_at,
            "training": self.training,
            "data": data,
            "prev_hash": self.prev_hash,
        }

    @property
    def chain_key(self) -> str:
        return chain_key(self.tenant_id, self.chain)

    @property
    def intact(self) -> bool:
        """True when the stored ``hash`` is the hash of the record's content."""
        return self.recomputed_hash == self.hash

    @classmethod
    def from_item(
        cls, item: Mapping[str, Any], *, storage_attributes: Collection[str] = STORAGE_ATTRIBUTES
    ) -> SealedRecord:
        """Build a record from a stored item (a DynamoDB-deserialised dict or parsed JSON).

        Integral ``Decimal`` numbers become ``int``; a fractional one is refused. Attributes in
        ``storage_attributes`` are not part of the record and are dropped, but ``pk`` must equal
        the chain key (else ``reason="wrong_chain"``) and ``sk`` the seq (``reason="out_of_order"``).
        Any other unknown attribute is refused: nothing that is stored goes unsealed.
        """
        if type(item) is TrustedItem and item.canonical_hash is not None and "proof_key" not in storage_attributes:
            record = cls._from_proven(item)
            if record is not None:
                return record
        if type(item) is not TrustedItem and type(item) is not dict and not isinstance(item, Mapping):
            raise RecordError(f"a record must be an object, found {type(item).__name__}")
        if "hash_version" not in item:
            raise RecordError("missing field hash_version", field="hash_version")
        version = _int_value(item["hash_version"], "hash_version")
        if version != HASH_VERSION:
            raise RecordError(
                f"hash_version {version} is not supported (this code verifies version {HASH_VERSION})",
                field="hash_version",
                reason="bad_version",
            )
        names = item.keys()
        allowed = _DEFAULT_ALLOWED if storage_attributes is STORAGE_ATTRIBUTES else _RECORD_FIELD_SET.union(
            storage_attributes)
        if not names <= allowed:  # set operations: C speed
            for name in item:
                if name not in RECORD_FIELDS and name not in storage_attributes:
                    raise RecordError(f"unexpected field {name!r}: not part of hash format v1", field=str(name))
        if not _RECORD_FIELD_SET <= names:
            missing = [name for name in RECORD_FIELDS if name not in item]
            raise RecordError(f"missing field {missing[0]}", field=missing[0])
        record = cls(
            hash_version=version,
            tenant_id=item["tenant_id"],
            chain=item["chain"],
            seq=_int_value(item["seq"], "seq"),
            type=item["type"],
            recorded_at=item["recorded_at"],
            training=item["training"],
            data=item["data"],
            prev_hash=item["prev_hash"],
            hash=item["hash"],
            write_proof=stored_proof(item) if "proof_key" in storage_attributes else None,
            trusted=type(item) is TrustedItem,
            # the decoder's hash covers the item's text, which must then be the record alone
            canonical_hash=item.canonical_hash if type(item) is TrustedItem and len(names) == len(RECORD_FIELDS)
            else None,
        )
        if "pk" in item and "pk" in storage_attributes and item["pk"] != record.chain_key:
            raise RecordError(
                f"item stored under pk {item['pk']!r} belongs to {record.chain_key!r}",
                field="pk",
                reason="wrong_chain",
            )
        if "sk" in item and "sk" in storage_attributes:
            sk = item["sk"]
            if type(sk) not in (int, Decimal) or _int_value(sk, "sk") != record.seq:
                raise RecordError(
                    f"item stored at sk {sk!r} holds seq {record.seq}", field="sk", reason="out_of_order"
                )
        return record

    @classmethod
    def _from_proven(cls, item: TrustedItem) -> SealedRecord | None:
        """``from_item`` of an item whose decoder proved its text canonical and took its hash
        (``TrustedItem.canonical_hash``), when every field passes the checks of ``__post_init__``
        with names, types and timestamps already seen valid (the common case of a verification);
        None when anything needs the full path (which then names the problem). Same record, no
        dataclass machinery: a verification builds a million of these."""
        if item.keys() != _RECORD_FIELD_SET:
            return None
        version, tenant_id, chain, seq, kind, recorded_at, training, data, prev_hash, stated = _FIELDS(item)
        if (type(version) is not int or version != HASH_VERSION or type(tenant_id) is not str
                or tenant_id not in _VALID_NAMES or type(chain) is not str or chain not in _VALID_NAMES
                or type(seq) is not int or not 1 <= seq <= INT_MAX or type(kind) is not str
                or kind not in _VALID_TYPES or type(training) is not bool or type(data) is not dict
                or type(recorded_at) is not str or _TIMESTAMP.fullmatch(recorded_at) is None
                or (prev_hash != _LAST_HASH[0] and not is_hash_hex(prev_hash))
                or (stated != item.canonical_hash and not is_hash_hex(stated))):  # a hex digest is valid
            return None
        try:
            datetime.fromisoformat(recorded_at)  # the calendar (no 30 February), as parse_timestamp
        except ValueError:
            return None
        _LAST_HASH[0] = stated  # valid: the next record's prev_hash, normally
        record = _NEW(cls)
        (set_version, set_tenant_id, set_chain, set_seq, set_type, set_recorded_at, set_training, set_data,
         set_prev_hash, set_hash, set_recomputed_hash, set_write_proof) = _SETTERS
        set_version(record, version)
        set_tenant_id(record, tenant_id)
        set_chain(record, chain)
        set_seq(record, seq)
        set_type(record, kind)
        set_recorded_at(record, recorded_at)
        set_training(record, training)
        set_data(record, data)
        set_prev_hash(record, prev_hash)
        set_hash(record, stated)
        set_recomputed_hash(record, item.canonical_hash)
        set_write_proof(record, None)
        return record

    def with_write_proof(self, proof: WriteProof) -> SealedRecord:
        """The same record carrying ``proof`` (a copy: nothing is validated or hashed again)."""
        clone = copy.copy(self)
        object.__setattr__(clone, "write_proof", proof)
        return clone

    def to_dict(self) -> dict[str, Any]:
        """All ten fields as a plain dict (``data`` is a fresh copy)."""
        result = self._hashed(normalise(self.data))
        result["hash"] = self.hash
        return result

    def hashed_fields(self) -> dict[str, Any]:
        """The object whose canonical bytes are hashed: every field except ``hash``."""
        return self._hashed(normalise(self.data))

    def canonical_bytes(self) -> bytes:
        """The bytes that are hashed, recomputed and re-checked now."""
        return canonical_bytes(self._hashed(self.data))

    def compute_hash(self) -> str:
        """Lowercase hex SHA-256 of ``canonical_bytes()``, recomputed now."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


# A frozen dataclass's own fields, set once by ``_from_proven`` through their slots (what
# ``object.__setattr__`` does, without looking the name up)
_NEW = object.__new__
_SETTERS = tuple(getattr(SealedRecord, name).__set__ for name in (*HASHED_FIELDS, "hash", "recomputed_hash",
                                                                   "write_proof"))
_FIELDS = operator.itemgetter(*HASHED_FIELDS, "hash")  # an item's fields, in this order
_LAST_HASH = [GENESIS_PREV_HASH]  # the latest hash ``_from_proven`` found valid (64 lowercase hex digits)


def _is_int(value: object) -> bool:
    return value.__class__ is int


def seal(
    tenant_id: str,
    chain: str,
    seq: int,
    type: str,
    recorded_at: str | datetime,
    training: bool,
    data: Mapping[str, Any],
    prev_hash: str,
) -> SealedRecord:
    """Seal a new record: fill ``hash_version`` and compute ``hash``.

    ``recorded_at`` may be an aware datetime (formatted with ``utc_timestamp``). ``data`` is
    copied and must be canonical (no floats: amounts in cents). Genesis (``seq == 1``) requires
    ``prev_hash == GENESIS_PREV_HASH``; later records must not use it.
    """
    if isinstance(recorded_at, datetime):
        recorded_at = utc_timestamp(recorded_at)
    if _is_int(seq) and seq == 1 and prev_hash != GENESIS_PREV_HASH:
        raise RecordError("the genesis record (seq 1) must have prev_hash = 64 zeros", field="prev_hash")
    if _is_int(seq) and seq > 1 and prev_hash == GENESIS_PREV_HASH:
        raise RecordError(
            f"seq {seq} is not genesis: prev_hash must be the hash of seq {seq - 1}", field="prev_hash"
        )
    if not isinstance(data, Mapping):
        raise RecordError(f"data must be an object, found {data.__class__.__name__}", field="data")
    fields: dict[str, Any] = {
        "hash_version": HASH_VERSION,
        "tenant_id": tenant_id,
        "chain": chain,
        "seq": seq,
        "type": type,
        "recorded_at": recorded_at,
        "training": training,
        "data": dict(data),
        "prev_hash": prev_hash,
    }
    draft = SealedRecord(**fields, hash=GENESIS_PREV_HASH)
    return SealedRecord(**fields, hash=draft.recomputed_hash)


# What one sealed record and one all-or-nothing write may hold (decision 0012). A record is one
# DynamoDB item (at most 400 KB, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# ServiceQuotas.html#limits-items), its data stored as canonical JSON text next to about 1 KB of
# other attributes; a batch and its claim are one TransactWriteItems (at most 4 MB in all). Beyond
# these the write could never succeed: refuse it as invalid input (4xx), never answer 503.
# A sale or journal entry may hold up to MAX_RECORD_DATA_BYTES: its reversal holds the same lines
# and a reason, and must still fit under MAX_SEALED_DATA_BYTES, the writer's own check.
MAX_RECORD_DATA_BYTES = 350_000
MAX_SEALED_DATA_BYTES = 400_000
MAX_COMMIT_DATA_BYTES = 3_800_000


def check_sealable(payloads: list[Mapping[str, Any]], *, field: str, item_field=None,
                   limit: int = MAX_RECORD_DATA_BYTES) -> None:
    """Refuse (ValidationFailed naming ``field``, or ``item_field(index)`` for one record) data too
    large to be sealed in one record, or records too large together to be sealed in one write."""
    from scelle_verify.domain.errors import ValidationFailed

    total = 0
    for index, data in enumerate(payloads):
        size = len(canonical_bytes(data))
        total += size
        if size > limit:
            raise ValidationFailed(
                f"This entry is {size:,} bytes once sealed; one entry holds at most {limit:,} "
                "bytes (shorter descriptions, or fewer lines per entry).",
                field=item_field(index) if item_field else field)
    if total > MAX_COMMIT_DATA_BYTES:
        raise ValidationFailed(
            f"These entries are {total:,} bytes once sealed; one request holds at most "
            f"{MAX_COMMIT_DATA_BYTES:,} bytes (send them in smaller batches).", field=field)
