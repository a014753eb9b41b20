"""The stored shape of a sealed record (decision 0003): what the chain stores write and read, and
what the stream verifier and the restore drill see of the same items. boto3's type
(de)serialisers only: no client, no I/O."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.domain.canonical import TrustedItem, canonical_bytes, encode_trusted, loads_trusted
from chalicelib.domain.errors import ScelleError
from chalicelib.domain.records import SealedRecord
from chalicelib.domain.write_proofs import proof_attributes

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(record: SealedRecord, ttl: int | None = None) -> dict[str, Any]:
    """The DynamoDB item of a record: its fields plus pk/sk (and ttl for the event journal).

    ``data`` is stored as its canonical JSON text, exactly the bytes the hash covers (decision
    0003): a flat item is 4-6x cheaper to write in a transaction than a nested map, and nothing
    is lost converting numbers back and forth.
    """
    plain = record.to_dict()
    plain["data"] = canonical_bytes(record.data).decode("utf-8")
    plain["pk"] = record.chain_key
    plain["sk"] = record.seq
    if record.write_proof is not None:
        plain.update(proof_attributes(record.write_proof))
    if ttl is not None:
        plain["ttl"] = ttl
    return {k: _serializer.serialize(v) for k, v in plain.items()}


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item (DynamoDB JSON, e.g. a stream image) as a plain record dict.

    ``data`` is parsed back only when its text is canonical; the result is then a
    ``TrustedItem`` (no float can be in it, so verification skips its type walk). Otherwise the
    raw text is kept, and the verifier reports the record as ``non_canonical`` at its seq.
    """
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    text = plain.get("data")
    if isinstance(text, str):
        try:
            parsed = loads_trusted(text)
            if type(parsed) is dict and encode_trusted(parsed) == text.encode("utf-8"):
                plain["data"] = parsed
                return TrustedItem(plain)
        except (ValueError, ScelleError):
            pass
    return plain


# Kept for callers that only need plain values.
from_item = decode_item
