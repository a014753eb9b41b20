"""Canonical bytes: the exact bytes that are hashed (hash format version 1).

A value is canonical JSON when it is made of exactly these Python types, nothing else:

- ``dict`` with ``str`` keys      -> object, keys sorted by Unicode code point
- ``list``                        -> array
- ``str``                         -> string, UTF-8, non-ASCII written as is (never ``\\uXXXX``)
- ``int`` in [-2**63, 2**63 - 1]  -> number, plain decimal digits
- ``bool``                        -> ``true`` / ``false`` (never 0 / 1)
- ``None``                        -> ``null``

Floats, ``Decimal``, tuples, sets, bytes, subclasses (``IntEnum``, ``StrEnum``, ...), non-``str``
keys, unpaired surrogates and nesting deeper than ``MAX_DEPTH`` are refused with
``CanonicalError``. The output has no whitespace: separators are ``,`` and ``:``. Inside strings
only ``"``, ``\\`` and the control characters U+0000..U+001F are escaped, as ``\\"``, ``\\\\``,
``\\b \\t \\n \\f \\r`` or ``\\u00xx`` (lowercase hex); everything else, U+007F and U+2028 included,
is written as its UTF-8 bytes. Strings are hashed as stored: no Unicode normalisation.

orjson is used when it can be imported (about 10x faster); the standard library path produces
the same bytes for every accepted value (``tests/unit/test_canonical.py`` checks it).
``encode_trusted`` is the fastest available encoder, for values that already passed ``check`` or
came out of ``normalise`` (it skips the second walk).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from scelle_verify.domain.errors import ValidationFailed

try:  # pragma: no branch - which branch runs depends on the environment
    import orjson
except ImportError:  # pragma: no cover - exercised by the stdlib comparison tests instead
    orjson = None  # type: ignore[assignment]

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
MAX_DEPTH = 64
"""Deepest allowed nesting of objects and arrays; the top-level value is depth 1."""

BACKEND = "orjson" if orjson is not None else "json"


class CanonicalError(ValidationFailed):
    """A value cannot be written as canonical JSON; ``field`` is the dotted path to it."""

    code = "non-canonical-value"
    title = "Value cannot be sealed"


class _Refused(Exception):
    """Internal: carries the reason up the recursion while the path is collected."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def _describe(value: object) -> str:
    kind = type(value).__name__
    if isinstance(value, float):
        return f"float {value!r} (only integers are allowed: amounts in cents, rates in basis points)"
    return f"value of type {kind}"


def _int_refusal(value: int) -> _Refused:
    return _Refused(f"integer {value} does not fit in signed 64 bits")


def _too_deep() -> _Refused:
    return _Refused(f"nesting deeper than {MAX_DEPTH} levels")


def _bad_key(key: object) -> _Refused:
    return _Refused(f"object key {key!r} is a {type(key).__name__}; keys must be str")


def _leaf(value: Any, convert: bool) -> Any:
    """A value that is not a container nor a common scalar: a big int, a Decimal, or refused."""
    kind = type(value)
    if kind is int:
        raise _int_refusal(value)
    if convert and kind is Decimal:
        try:
            numerator, denominator = value.as_integer_ratio()
        except (ValueError, OverflowError):
            raise _Refused(f"number {value} is not finite") from None
        if denominator != 1:
            raise _Refused(f"number {value} is not an integer (amounts are integer cents)")
        if not INT_MIN <= numerator <= INT_MAX:
            raise _int_refusal(numerator)
        return numerator
    raise _Refused(_describe(value))


def _check(value: Any, depth: int) -> None:
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            raise _too_deep()
        for key, item in value.items():
            if type(key) is not str:
                raise _bad_key(key)
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                continue
            if item_kind is int and INT_MIN <= item <= INT_MAX:
                continue
            try:
                _check(item, depth + 1)
            except _Refused as refused:
                refused.path.append(key)
                raise
    elif kind is list:
        if depth > MAX_DEPTH:
            raise _too_deep()
        for index, item in enumerate(value):
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                continue
            if item_kind is int and INT_MIN <= item <= INT_MAX:
                continue
            try:
                _check(item, depth + 1)
            except _Refused as refused:
                refused.path.append(str(index))
                raise
    elif not (kind is str or value is None or kind is bool or (kind is int and INT_MIN <= value <= INT_MAX)):
        _leaf(value, convert=False)


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            raise _too_deep()
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _bad_key(key)
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                out[key] = item
            elif item_kind is int and INT_MIN <= item <= INT_MAX:
                out[key] = item
            else:
                try:
                    out[key] = _copy(item, depth + 1)
                except _Refused as refused:
                    refused.path.append(key)
                    raise
        return out
    if kind is list:
        if depth > MAX_DEPTH:
            raise _too_deep()
        items: list[Any] = []
        append = items.append
        for item in value:
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                append(item)
            elif item_kind is int and INT_MIN <= item <= INT_MAX:
                append(item)
            else:
                try:
                    append(_copy(item, depth + 1))
                except _Refused as refused:
                    refused.path.append(str(len(items)))
                    raise
        return items
    if kind is str or value is None or kind is bool or (kind is int and INT_MIN <= value <= INT_MAX):
        return value
    return _leaf(value, convert=True)


def _raise(refused: _Refused, field: str | None) -> CanonicalError:
    parts = [field] if field else []
    parts.extend(reversed(refused.path))
    path = ".".join(parts) or None
    where = f" at {path}" if path else ""
    return CanonicalError(f"cannot seal {refused.reason}{where}", field=path)


def check(value: object, *, field: str | None = None) -> None:
    """Raise ``CanonicalError`` unless ``value`` is canonical JSON (see the module docstring).

    ``field`` prefixes the dotted path reported in the error (``data`` -> ``data.lines.0.qty``).
    Unpaired surrogates are only detected when the bytes are produced (``canonical_bytes``).
    """
    try:
        _check(value, 1)
    except _Refused as refused:
        raise _raise(refused, field) from None


def normalise(value: object, *, field: str | None = None) -> Any:
    """Return a fresh copy of ``value`` made only of canonical types.

    Integral ``Decimal`` values (what boto3 returns for every DynamoDB number) become ``int``;
    a ``Decimal`` with a fraction, NaN or infinity is refused, like everything ``check`` refuses.
    """
    try:
        return _copy(value, 1)
    except _Refused as refused:
        raise _raise(refused, field) from None


def _find_surrogate(value: Any, path: list[str]) -> list[str] | None:
    if type(value) is str:
        return path if any(0xD800 <= ord(char) <= 0xDFFF for char in value) else None
    if type(value) is dict:
        for key, item in value.items():
            found = _find_surrogate(key, [*path, key]) or _find_surrogate(item, [*path, key])
            if found is not None:
                return found
    if type(value) is list:
        for index, item in enumerate(value):
            found = _find_surrogate(item, [*path, str(index)])
            if found is not None:
                return found
    return None


def _surrogate_error(value: object, field: str | None) -> CanonicalError:
    refused = _Refused("a string with an unpaired surrogate (not valid UTF-8)")
    refused.path = list(reversed(_find_surrogate(value, []) or []))
    return _raise(refused, field)


def encode_stdlib(value: object) -> bytes:
    """Canonical bytes through the standard library only; ``value`` must already pass ``check``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _surrogate_error(value, None) from None


if orjson is not None:
    _OPTIONS = orjson.OPT_SORT_KEYS

    def encode_orjson(value: object) -> bytes:
        """Canonical bytes through orjson; ``value`` must already pass ``check``."""
        try:
            return orjson.dumps(value, option=_OPTIONS)
        except orjson.JSONEncodeError:
            raise _surrogate_error(value, None) from None

    encode_trusted = encode_orjson
else:  # pragma: no cover

    def encode_orjson(value: object) -> bytes:
        raise RuntimeError("orjson is not installed")

    encode_trusted = encode_stdlib


def canonical_bytes(value: object) -> bytes:
    """The canonical JSON bytes of ``value``; raise ``CanonicalError`` if it is not canonical."""
    check(value)
    return encode_trusted(value)


def sha256_hex(value: object) -> str:
    """Lowercase hex SHA-256 of the canonical bytes of ``value``."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


class TrustedItem(dict):
    """A stored record decoded by ``loads_trusted`` (or whose ``data`` was): every value in it
    is a JSON string, integer, boolean, null, list or object — never a float. ``SealedRecord``
    skips its type walk for such items, which is half the cost of verifying a record.

    ``canonical_hash``: set only by a decoder that proved the item's text to be exactly its
    canonical bytes (``encode_trusted(item) == text``) and the item to hold exactly the record's
    fields; then it is the hex SHA-256 of the canonical bytes of the item without ``hash``, taken
    from that text (``SealedRecord`` does not encode the record a second time)."""

    canonical_hash: str | None = None


def plain_json(value: object) -> bool:
    """Whether a value decoded from JSON text (so: only dicts with str keys, lists, str, int,
    float, bool and None) holds nothing ``check`` refuses: no float, no integer outside signed 64
    bits, no nesting deeper than ``MAX_DEPTH``. A walk about as fast as ``check`` but without its
    recursion; a False says only "not proven": ``check`` or ``normalise`` then names the problem."""
    stack: list[tuple[Any, int]] = [((value,), 0)]  # the value itself at depth 1
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth > MAX_DEPTH:
            return False
        for member in item.values() if type(item) is dict else item:  # type: ignore[attr-defined]
            kind = type(member)
            if kind is str:
                continue
            if kind is int:
                if INT_MIN <= member <= INT_MAX:
                    continue
                return False
            if kind is dict or kind is list:
                push((member, depth + 1))
            elif not (kind is bool or member is None):
                return False
    return True


def _refuse_float(text: str) -> Any:
    raise CanonicalError(f"number {text} is not an integer (amounts are integer cents)", field=None)


def _refuse_constant(text: str) -> Any:
    raise CanonicalError(f"{text} is not a JSON value", field=None)


def loads_trusted(text: str | bytes) -> Any:
    """Parse JSON refusing floats, NaN and infinities (``CanonicalError``), so the result holds
    canonical types only. Duplicate keys are refused too: what was shown must be what is hashed."""
    return json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant,
                      object_pairs_hook=_no_duplicates)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalError(f"key {key!r} appears twice in one object", field=None)
            seen.add(key)
    return result
