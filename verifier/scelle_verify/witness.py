"""The witness's cosignatures in an export (decision 0024): ``cosignatures.csv`` read row by row,
each row rebuilt into the cosignature it stands for and checked against the checkpoint of the
same chain and size in ``checkpoints.csv`` and the witness key of ``keys/``; then, per chain,
which sizes are co-signed and whether the newest exported checkpoint is, and by which key.

A chain whose newest exported checkpoint (covering every record of the chain) carries a valid
cosignature by a witness key the auditor passed with ``--witness-key`` is *anchored*: the
witness co-signs a size only after checking that it extends what it co-signed before, so an
auditor holding its key needs no pinned log key (``--trusted-key``) for that chain. A valid
cosignature by a key the auditor did not pass is reported, and anchors nothing.

Imports: standard library and ``scelle_verify.domain`` only, like the rest of this package.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scelle_verify import format as fmt
from scelle_verify.domain.checkpoint import Checkpoint, CheckpointError, PublicKeyInfo, key_valid_at
from scelle_verify.domain.records import is_hash_hex, parse_timestamp
from scelle_verify.domain.witness import Cosignature, CosignatureError, verify_cosignature

COLUMNS = fmt.COSIGNATURES_HEADER
TIMESTAMP_SHAPE = "an RFC 3339 UTC timestamp like 2026-11-23T17:30:00.123456Z"


@dataclass(frozen=True)
class RowProblem:
    """A row of ``cosignatures.csv`` that is not what it should be: ``column`` and the values
    ``expected`` and ``found`` (spreadsheet style, like the other CSV checks)."""

    reason: str
    detail: str
    column: str | None = None
    expected: str | None = None
    found: str | None = None
    key: bool = False  # a problem with the witness key rather than with the row itself


@dataclass(frozen=True)
class Row:
    chain: str
    size: int
    root: str
    witness_key_id: str
    timestamp: str
    signature: bytes


def parse_row(row: Sequence[str], chains: Sequence[str]) -> Row | RowProblem:
    """The row's cells, each in its shape, or the first cell that is not."""
    if len(row) != len(COLUMNS):
        return RowProblem("row_changed", f"{len(row)} cells where a {fmt.COSIGNATURES} row has {len(COLUMNS)} "
                                         f"({'; '.join(COLUMNS)})", expected=f"{len(COLUMNS)} cells",
                          found=f"{len(row)} cells")
    chain, size, root, key_id, timestamp, signature = row

    def bad(column: str, expected: str, found: str) -> RowProblem:
        return RowProblem("malformed_row", f"expected {expected}, found {found!r}", column=column, expected=expected,
                          found=found)

    if chain not in chains:
        return bad("chaine", f"a chain of this archive ({', '.join(chains)})", chain)
    if not size.isdigit() or size[0] == "0":
        return bad("taille", "a checkpoint size (a decimal integer of at least 1)", size)
    if not is_hash_hex(root):
        return bad("racine", "a Merkle root (64 lower-case hex digits)", root)
    if not key_id or any(c.isspace() for c in key_id):
        return bad("cle_temoin", "a witness key id (one word)", key_id)
    try:
        parse_timestamp(timestamp)
    except ValueError:
        return bad("horodatage_utc", TIMESTAMP_SHAPE, timestamp)
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw:
        return bad("signature", "a base64 DER ECDSA signature", signature)
    return Row(chain, int(size), root, key_id, timestamp, raw)


def check_row(row: Row, checkpoints: dict[int, Checkpoint], witness_keys: dict[str, PublicKeyInfo],
              verify: Callable[[str, bytes, bytes], bool]) -> Cosignature | RowProblem:
    """The cosignature the row stands for, checked: a signed checkpoint of the same chain and size
    (``checkpoints``: the chain's, by size, ascending) with the same root, a witness key of
    ``keys/keys.json`` valid at its time, and its signature."""
    checkpoint = checkpoints.get(row.size)
    if checkpoint is None:
        sizes = [str(size) for size in checkpoints]
        listed = ", ".join(sizes if len(sizes) <= 8 else [*sizes[:4], "…", *sizes[-3:]])
        return RowProblem("cosignature_without_checkpoint",
                          f"the witness co-signed {row.chain} at size {row.size}, but checkpoints.csv has no "
                          f"checkpoint of {row.chain} at that size (it has {listed or 'none'})", column="taille",
                          expected=f"a checkpoint size of {row.chain}", found=str(row.size))
    if checkpoint.root != row.root:
        return RowProblem("cosignature_root_mismatch",
                          f"the witness co-signed root {row.root} for {row.chain} at size {row.size}, but the signed "
                          f"checkpoint of that size has root {checkpoint.root}: the row, or the checkpoint, was "
                          "changed (or the log showed two histories)", column="racine", expected=checkpoint.root,
                          found=row.root)
    key = witness_keys.get(row.witness_key_id)
    if key is None:
        known = ", ".join(sorted(witness_keys)) or "none"
        return RowProblem("witness_key_missing",
                          f"the cosignature is by {row.witness_key_id}, which keys/keys.json does not list as a "
                          f"witness key (witness keys: {known}): it cannot be checked", column="cle_temoin",
                          expected=f"a witness key of {fmt.KEYS_INDEX}", found=row.witness_key_id, key=True)
    try:
        valid = key_valid_at(key, row.timestamp)
    except ValueError:
        valid = False
    if not valid:
        return RowProblem("key_not_valid",
                          f"the cosignature is dated {row.timestamp}, outside the validity of witness key "
                          f"{key.key_id} [{key.not_before}, {key.not_after or 'now'})", column="horodatage_utc",
                          expected=f"on or after {key.not_before}", found=row.timestamp, key=True)
    try:
        cosignature = Cosignature(row.witness_key_id, row.timestamp, checkpoint, row.signature)
        verify_cosignature(cosignature, checkpoint, verify)
    except (CosignatureError, CheckpointError) as exc:
        return RowProblem("bad_cosignature",
                          f"the cosignature of {row.chain} at size {row.size} does not verify with witness key "
                          f"{row.witness_key_id} ({exc.detail}): the row or the key was altered", column="signature",
                          expected=f"a signature by {row.witness_key_id}",
                          found=base64.b64encode(row.signature).decode("ascii")[:24] + "…")
    return cosignature


@dataclass
class ChainWitness:
    """What the cosignatures say about one chain of the archive."""

    chain: str
    newest_size: int | None  # the newest checkpoint of checkpoints.csv
    entries: int  # the chain's records (the manifest's last_seq)
    sizes: set[int] = field(default_factory=set)  # sizes with a valid cosignature
    by_key: dict[int, list[str]] = field(default_factory=dict)  # size -> witness key ids that co-signed it

    @property
    def newest_cosigned_by(self) -> list[str]:
        return sorted(self.by_key.get(self.newest_size, [])) if self.newest_size is not None else []

    @property
    def covers_every_record(self) -> bool:
        return self.newest_size is not None and self.newest_size == self.entries

    def summary(self, given: set[str] | None, fingerprints: dict[str, str]) -> dict[str, Any]:
        anchored_by = [k for k in self.newest_cosigned_by if given is not None and _given(fingerprints.get(k), given)]
        return {
            "sizes": sorted(self.sizes),
            "newest_size": self.newest_size,
            "newest_cosigned": bool(self.newest_cosigned_by) and self.covers_every_record,
            "newest_cosigned_by": self.newest_cosigned_by,
            "anchored": bool(anchored_by) and self.covers_every_record,
            "anchored_by": anchored_by if self.covers_every_record else [],
        }


def _given(print_: str | None, given: set[str]) -> bool:
    return print_ is not None and any(print_.startswith(g) for g in given)


def sizes_text(sizes: Sequence[int]) -> str:
    """``9, 15, 40`` or, for many, ``120 sizes (9, 15, 40 … 9870, 9903)``."""
    if len(sizes) <= 6:
        return ", ".join(str(s) for s in sizes)
    return (f"{len(sizes)} sizes ({', '.join(str(s) for s in sizes[:3])} … "
            f"{', '.join(str(s) for s in sizes[-2:])})")
