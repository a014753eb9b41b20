"""Claims: what a seal takes together with its records, in one all-or-nothing write.

A ledger operation has a natural key — a register's receipt id, a chain's closed period, the
entry a reversal undoes, the idempotency key of a request — and an event chain has a head that
must survive the expiry of its items. Each is an item written in the same conditional
transaction as the records (decision 0012), so that a retried operation finds its own claim and
converges on the one entry it sealed, and two rival operations cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import SequenceConflict


@dataclass(frozen=True)
class Claim:
    """An item of the claims (ops) table written in the same transaction as the records it
    goes with, so that the records and their claim exist together or not at all.

    ``expect_seq is None``: the item must not exist yet — a natural key taken once and for all
    (a register's receipt id, a closed period, a reversed entry, an idempotency key).
    ``expect_seq = n``: the item must exist with ``seq = n`` — a pointer moved forward (an
    event chain's head, a derivation cursor). ``values`` are plain strings and integers.
    """

    pk: str
    sk: str
    values: Mapping[str, str | int] = field(default_factory=dict)
    expect_seq: int | None = None


class CommitRejected(SequenceConflict):
    """A conditional commit refused as a whole. It says what stood in the way, as stored:
    ``records`` maps each refused seq to the item found there, ``claims`` maps the index of
    each refused claim to its stored values (``None`` when it does not exist). The writer
    compares them with what it tried to write: equal everywhere means its own earlier attempt
    landed (a lost response); a foreign record means a lost race; a foreign claim means the
    operation was done before."""

    def __init__(self, detail: str, *, records: Mapping[int, Mapping[str, Any]] | None = None,
                 claims: Mapping[int, Mapping[str, Any] | None] | None = None) -> None:
        super().__init__(detail)
        self.records = dict(records or {})
        self.claims = dict(claims or {})


class ClaimTaken(SequenceConflict):
    """The operation's claim is held already: the operation was done before (by an earlier
    attempt of the same request, or by a rival). ``stored`` is what the claim holds."""

    code = "claim-taken"
    title = "Already done"

    def __init__(self, claim: Claim, stored: Mapping[str, Any] | None) -> None:
        super().__init__(f"{claim.pk} / {claim.sk} is claimed already")
        self.claim = claim
        self.stored = dict(stored) if stored is not None else None
