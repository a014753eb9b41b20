"""Ports: what the services need from chain storage and signing, as Protocols. Adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from chalicelib.domain.claims import Claim
from chalicelib.domain.records import SealedRecord


class ChainStore(Protocol):
    """Append-only storage of sealed records, one partition per chain, keyed by seq.

    ``append`` and ``append_batch`` are conditional: they raise ``SequenceConflict`` when any
    (chain, seq) already exists, and then write nothing. Nothing is ever updated or deleted.
    """

    def head(self, chain_key: str) -> SealedRecord | None: ...

    def get(self, chain_key: str, seq: int) -> SealedRecord | None: ...

    def append(self, record: SealedRecord, *, ttl: int | None = None) -> None: ...

    def append_batch(self, records: Sequence[SealedRecord], *, ttl: int | None = None) -> None: ...

    def commit(self, records: Sequence[SealedRecord], claims: Sequence[Claim] = (), *,
               ttl: int | None = None) -> None:
        """Write ``records`` and ``claims`` in one all-or-nothing conditional request (at most
        100 items in all). Raises ``CommitRejected`` naming what stood in the way."""
        ...

    def claim(self, pk: str, sk: str) -> dict[str, Any] | None:
        """The stored values of a claim or pointer, read consistently; ``None`` if absent."""
        ...

    def add_claim(self, claim: Claim) -> dict[str, Any] | None:
        """Write ``claim`` alone if nothing holds its key (no record with it): ``None`` when written,
        else the stored values of the claim that holds it (ours, if a lost answer was retried)."""
        ...

    def scan(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None, *,
             page_size: int | None = None) -> Iterator[SealedRecord]:
        """Records in ascending seq order, read lazily page by page (constant memory). ``page_size``:
        records per read, for a reader that stops after a few (else pages of up to 1 MB)."""
        ...

    def by_time(
        self, chain_key: str, start: str, end: str, *, limit: int, after_seq: int | None = None,
        descending: bool = False,
    ) -> list[SealedRecord]:
        """Records with start <= recorded_at < end, ascending, at most ``limit``, after ``after_seq``
        (seq > after_seq). ``descending``: newest first, and "after" in that order (seq < after_seq)."""
        ...

    def raw_items(self, chain_key: str, first_seq: int = 1, last_seq: int | None = None) -> Iterator[dict]:
        """The stored items exactly as they are (for verification of tampered data)."""
        ...


class Signer(Protocol):
    key_id: str

    def sign(self, message: bytes) -> bytes:
        """DER-encoded ECDSA P-256 / SHA-256 signature of ``message``."""
        ...

    def public_key_pem(self) -> str: ...
