"""Signed checkpoints: the Merkle root of a chain at a size, signed by the current key.

The key registry publishes every signing key with its validity range; when the configured
signer changes (rotation), the previous key is closed at that instant and stays published, so
old checkpoints keep verifying. A published key is used only if its public key matches the
fingerprint its id carries, and the signer's own key only if it is the key the signer (KMS
``GetPublicKey``) has.

The signer verifies before it signs (decision 0019). It anchors on the previous signed
checkpoint, after checking its signature; it resumes from the compact range stored with it only
when that range rebuilds the signed root (else it recomputes from seq 1), and links the next
entry to the anchor's last entry hash only when that hash is tied to the same root. Then every
entry since is re-verified: hash recomputed from its content, ``prev_hash`` equal to the previous
entry's hash, seqs contiguous up to the head. Any failure raises a tamper alarm naming the first
bad seq and ``SigningRefused``: nothing is signed, never a shorter tree over a gap. The same
checks back the Merkle root a closure seals (``compact_at``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from chalicelib.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    PublicKeyInfo,
    SigningRefused,
    key_id_fingerprint,
    verify_checkpoint,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.merkle import CompactRange, ProofError, inclusion_proof, record_leaf_hash, verify_inclusion
from chalicelib.domain.records import (
    GENESIS_PREV_HASH,
    RecordError,
    chain_key,
    is_hash_hex,
    parse_chain_key,
    utc_timestamp,
)
from chalicelib.domain.tiles import (
    TileError,
    edge_roots,
    edge_tiles,
    extend_tiles,
    inclusion_proof_from_tiles,
    inclusion_tiles,
    leaf_from_tiles,
)
from chalicelib.domain.verification import ChainHead, VerificationReport, verify_chain
from chalicelib.domain.write_proofs import WriteProofCheck
from chalicelib.observability import logger
from chalicelib.ports.checkpoints import StoredCheckpoint
from chalicelib.ports.signatures import key_binding_problem, same_public_key, signature_verifier_for
from chalicelib.ports.stores import ChainStore, Signer
from chalicelib.ports.tiles import TileStore
from chalicelib.ports.write_proofs import WriteProofs

SIGNER_ALARM_SOURCE = "signer"
KEYS_ALARM_SOURCE = "key_registry"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _raise_alarm(alarms, tenant_id: str, chain: str, seq: int | None, reason: str, detail: str, source: str,
                 evidence: str) -> None:
    """Raise a tamper alarm if an alarm service is wired; a failure to raise it never hides the
    refusal it comes with (it is logged)."""
    if alarms is None:
        logger.error("TAMPER ALARM (no alarm service wired) " + detail,
                     extra={"tenant_id": tenant_id, "chain": chain, "seq": seq, "reason": reason, "source": source})
        return
    from chalicelib.services.tamper_alarms import TamperAlarm

    try:
        alarms.raise_alarm(TamperAlarm(tenant_id, chain, seq, reason, detail, source, evidence=evidence))
    except Exception:
        logger.exception("could not raise a tamper alarm", extra={"tenant_id": tenant_id, "chain": chain,
                                                                  "seq": seq, "reason": reason})


class KeyRegistry:
    def __init__(self, store, signer: Signer, clock: Callable[[], datetime] = _utcnow, *, alarms=None) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock
        self._alarms = alarms
        self._problems: dict[tuple[str, str], str | None] = {}  # (key id, PEM) -> why refused
        self._reported: set[tuple[str, str]] = set()

    def published(self) -> list[PublicKeyInfo]:
        """The published keys a verifier may use, oldest first. A key whose public key does not
        match its id is left out, with an alarm. Reading publishes nothing: only a signer writes
        the keys table (the API may not)."""
        return self._state(sign=False)[1]

    def ensure_current(self) -> PublicKeyInfo:
        """Publish the signer's key if new, closing the validity of the key it replaces.

        ``SigningRefused`` (``key_mismatch``) when the key published under the signer's id is not
        the signer's public key (it was replaced in the ops table)."""
        return self.signing_keys()[0]

    def signing_keys(self) -> tuple[PublicKeyInfo, list[PublicKeyInfo]]:
        """``(the signer's published key, the keys a verifier may use)`` from one read of the key
        list: what the checkpoint service needs before it signs. Raises like ``ensure_current``."""
        current, trusted = self._state(sign=True)
        if current not in trusted:
            problem = self._problem(current)
            raise SigningRefused(f"refusing to sign with key {current.key_id}: {problem}", reason="key_mismatch",
                                 first_bad_seq=None)
        return current, trusted

    def key_problem(self, key: PublicKeyInfo) -> str | None:
        """Why a published key must not be used, or None (cached per key id and PEM)."""
        return self._problem(key)

    # -- internals -----------------------------------------------------------------------------
    def _keys(self, *, sign: bool) -> list[PublicKeyInfo]:
        """The published keys. Keys published before the keys table existed (in ops, which the
        API may write) are read from there until a signer has moved them over, once."""
        keys = self._store.keys()
        if keys:
            return keys
        legacy = self._store.legacy_keys()
        if not legacy or not sign:
            return legacy
        for key in legacy:
            if key_binding_problem(key) is None:  # a swapped PEM is not carried over
                try:
                    self._store.put_key(key, if_absent=True)
                except Conflict:
                    pass
        return self._store.keys()

    def _state(self, *, sign: bool) -> tuple[PublicKeyInfo | None, list[PublicKeyInfo]]:
        keys = self._keys(sign=sign)
        own_id = self._signer.key_id
        current = next((k for k in keys if k.key_id == own_id), None)
        if current is None and not sign:
            return None, [k for k in keys if self._check(k)]
        if current is None:
            current, keys = self._publish(keys)
        elif current.not_after is not None:
            # Re-opening a retired key would rewrite its published validity: refuse loudly.
            from chalicelib.config import ConfigError

            raise ConfigError(
                f"signing key {current.key_id} was retired at {current.not_after}; configure a new key "
                "(SCELLE_SIGNING_KEY_ID) instead of bringing an old one back"
            )
        return current, [k for k in keys if self._check(k)]

    def _check(self, key: PublicKeyInfo) -> bool:
        problem = self._problem(key)
        if problem is not None:
            self._report(key, problem)
        return problem is None

    def _publish(self, keys: list[PublicKeyInfo]) -> tuple[PublicKeyInfo, list[PublicKeyInfo]]:
        now = utc_timestamp(self._clock())
        current = PublicKeyInfo(self._signer.key_id, now, None, self._signer.public_key_pem())
        problem = key_binding_problem(current)
        if problem is not None:  # the signer's id does not name the key it signs with: publish nothing
            raise SigningRefused(f"refusing to publish the signer's key: {problem}", reason="key_mismatch",
                                 first_bad_seq=None)
        try:
            self._store.put_key(current, if_absent=True)
        except Conflict:
            # Another process published it first: its not_before stands, whatever ours was.
            keys = self._store.keys()
            return next(k for k in keys if k.key_id == current.key_id), keys
        updated = []
        for key in keys:
            if key.not_after is None and key.key_id != current.key_id:
                key = PublicKeyInfo(key.key_id, key.not_before, now, key.public_key_pem)
                self._store.put_key(key)
            updated.append(key)
        return current, [*updated, current]

    def _problem(self, key: PublicKeyInfo) -> str | None:
        cache_key = (key.key_id, key.public_key_pem)
        if cache_key not in self._problems:
            problem = key_binding_problem(key)
            own_ids = (self._signer.key_id, *getattr(self._signer, "previous_key_ids", ()))
            if problem is None and key.key_id in own_ids and not same_public_key(
                key.public_key_pem, self._signer.public_key_pem()
            ):
                problem = (f"published key {key.key_id!r} is not the signer's public key (the key it signs with, "
                           "as its key service returns it): the public key was replaced under this id")
            if problem is None and key_id_fingerprint(key.key_id) is None and key.key_id not in own_ids:
                logger.warning("published key id carries no fingerprint: its public key is used as published",
                               extra={"key_id": key.key_id})
            self._problems[cache_key] = problem
        return self._problems[cache_key]

    def _report(self, key: PublicKeyInfo, problem: str) -> None:
        cache_key = (key.key_id, key.public_key_pem)
        if cache_key in self._reported:
            return
        self._reported.add(cache_key)
        _raise_alarm(self._alarms, "", "keys", None, "key_mismatch", problem, KEYS_ALARM_SOURCE,
                     evidence=f"{key.key_id}|{key.public_key_pem}")


@dataclass(frozen=True)
class _Verified:
    """A chain's verified state at ``compact.size``: its compact range, the hash of its last
    entry, and (when computed) the hashes that tie that entry to the range."""

    compact: CompactRange
    last_hash: str
    last_path: list[str] | None


def _seq_of(item: object) -> int | None:
    value = item.get("seq") if isinstance(item, dict) else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _compact(size: int, hashes: Iterable[str] | None) -> CompactRange | None:
    try:
        return CompactRange.from_state(size, list(hashes or ()))
    except (ProofError, TypeError, ValueError):
        return None


def stored_entry_is_signed(anchor: StoredCheckpoint, entry_hash: str) -> bool | None:
    """Whether ``entry_hash``, the hash a table holds for entry ``anchor.checkpoint.size``, is the
    one the signed checkpoint covers: appended to the stored ``last_path`` it rebuilds the stored
    frontier, and that frontier the signed root. None when the item predates ``last_path`` (it
    cannot tell). The checkpoint's signature is the caller's to verify."""
    cp = anchor.checkpoint
    frontier = _compact(cp.size, anchor.frontier)
    if frontier is None or frontier.root().hex() != cp.root:
        return False
    if anchor.last_path is None:
        return None
    return _tail_matches(cp.size, frontier, entry_hash, anchor.last_path)


def _tail_matches(size: int, frontier: CompactRange, last_hash: str, last_path: list[str] | None) -> bool:
    """True when entry ``size``'s hash, appended to the compact range at ``size - 1`` made of
    ``frontier[:-1] + last_path``, gives ``frontier`` again (docs/hash-format.md section 4)."""
    if not is_hash_hex(last_hash) or last_path is None:
        return False
    before = _compact(size - 1, [h.hex() for h in frontier.hashes[:-1]] + list(last_path))
    if before is None:
        return False
    before.append(record_leaf_hash(last_hash))
    return before == frontier


class CheckpointService:
    def __init__(
        self,
        journal: ChainStore,
        checkpoints,
        signer: Signer,
        keys: KeyRegistry,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_signed: Callable[[], None] | None = None,
        alarms=None,
        entries_expire: bool = False,
        proofs: WriteProofs | None = None,
        tiles: TileStore | None = None,
    ) -> None:
        """``alarms``: the tamper alarm service (``raise_alarm(TamperAlarm)``). ``entries_expire``:
        the chain store drops old entries (the event journal's 30 days), so a chain cannot always
        be recomputed from seq 1 here. ``proofs``: every entry signed for the first time must carry
        a valid write proof (decision 0022); without it nothing is asked (unit tests only).
        ``tiles``: the Merkle tree's tiles (decision 0026), stored with each checkpoint signed and
        read for inclusion proofs; without it proofs read the chain (as before tiles)."""
        self._journal = journal
        self._checkpoints = checkpoints
        self._signer = signer
        self._keys = keys
        self._clock = clock
        self._on_signed = on_signed or (lambda: None)
        self._alarms = alarms
        self._entries_expire = entries_expire
        self._proofs = proofs
        self._tiles = tiles

    def latest(self, tenant_id: str, chain: str):
        return self._checkpoints.latest(chain_key(tenant_id, chain))

    def list(self, tenant_id: str, chain: str):
        return self._checkpoints.list(chain_key(tenant_id, chain))

    def checkpoint(self, tenant_id: str, chain: str) -> Checkpoint | None:
        """Sign the chain's current head, extending the previous checkpoint. None if the chain is
        empty; the latest checkpoint if nothing was appended since. ``SigningRefused`` (and a
        tamper alarm) if the chain or the previous checkpoint does not verify."""
        key = chain_key(tenant_id, chain)
        head = self._journal.head(key)
        previous = self._checkpoints.latest(key)
        if head is None:
            return None
        if previous is not None and previous.checkpoint.size >= head.seq:
            return previous.checkpoint
        _, trusted = self._keys.signing_keys()
        read: list[tuple[int | None, object]] = []  # (seq, hash) of each entry verified, for the tiles
        state = self._verified(key, previous, head.seq, trusted, tap=read)
        unsigned = Checkpoint(
            chain_key=key,
            size=state.compact.size,
            root=state.compact.root().hex(),
            timestamp=utc_timestamp(self._clock()),
            key_id=self._signer.key_id,
        )
        signed = unsigned.with_signature(self._signer.sign(unsigned.signed_message()))
        stored = StoredCheckpoint(signed, [h.hex() for h in state.compact.hashes], state.last_hash, state.last_path)
        # Tiles first: a checkpoint a reader finds has its tiles (unless its chain has none yet).
        self._store_tiles(key, previous, state.compact.size, read)
        try:
            self._checkpoints.put(stored)
        except Conflict:
            # Another worker signed this size first: theirs is as good as ours.
            return self._checkpoints.latest(key).checkpoint
        self._on_signed()
        return signed

    def root_at(self, tenant_id: str, chain: str, size: int) -> str:
        return self.compact_at(tenant_id, chain, size).root().hex()

    def compact_at(self, tenant_id: str, chain: str, size: int) -> CompactRange:
        """The chain's compact Merkle range at ``size``, continued from the newest signed
        checkpoint at or below it (so a closure reads only the entries since that checkpoint),
        verified as ``checkpoint`` verifies what it signs."""
        key = chain_key(tenant_id, chain)
        if size == 0:
            return CompactRange()
        base = self._checkpoints.latest_at_or_below(key, size)  # one read, not the chain's every checkpoint
        return self._verified(key, base, size, self._keys.published()).compact

    def inclusion(self, tenant_id: str, chain: str, seq: int) -> dict | None:
        """Proof that entry ``seq`` is in the latest signed checkpoint covering it, or None.

        Built from the tiles (decision 0026): one query for the checkpoint, one BatchGetItem of
        at most two tiles per level, whatever the chain's length. A chain signed before tiles
        existed has none: its proof is built from all its entries, as before."""
        key = chain_key(tenant_id, chain)
        latest = self._checkpoints.latest(key)
        if latest is None or latest.checkpoint.size < seq:
            return None
        cp = latest.checkpoint
        proof = self._proof_from_tiles(key, cp, seq - 1)
        if proof is None:
            leaves = [record_leaf_hash(r.hash) for r in self._journal.scan(key, 1, cp.size)]
            proof = inclusion_proof(leaves, seq - 1)
        return {
            "leaf_index": seq - 1,
            "tree_size": cp.size,
            "root": cp.root,
            "hashes": [h.hex() for h in proof],
            "checkpoint": cp.to_text(),
        }

    def backfill_tiles(self, tenant_id: str, chain: str, latest: StoredCheckpoint | None = None) -> int:
        """Store the tiles of a chain signed before tiles existed, up to its newest checkpoint:
        its entries are read once from seq 1 and verified as signing verifies them (hashes,
        links, the checkpoint's signature and root), so that the next signature extends the tiles
        and its proofs stop reading the chain. Returns the number of tiles stored (0: already
        tiled, nothing signed, or an event chain whose first entries have expired). ``latest``: the
        chain's newest stored checkpoint when the caller has just read it."""
        key = chain_key(tenant_id, chain)
        if self._tiles is None or self._entries_expire:
            return 0
        latest = latest if latest is not None else self._checkpoints.latest(key)
        if latest is None or latest.checkpoint.size == 0:
            return 0
        cp = latest.checkpoint
        frontier = _compact(cp.size, latest.frontier)
        try:
            if frontier is not None and edge_roots(cp.size, self._tiles.get_many(key, edge_tiles(cp.size))) == list(
                    frontier.hashes):
                return 0
        except TileError:
            pass
        trusted = self._keys.published()
        verifier = signature_verifier_for(trusted)
        try:
            verify_checkpoint(cp, trusted, verifier)
        except CheckpointError as exc:
            self._refuse(key, exc.reason, cp.size, f"the newest signed checkpoint does not verify: {exc.detail}")
        read: list[tuple[int | None, object]] = []
        items = _tapped(iter(self._journal.raw_items(key, 1, cp.size)), read)
        self._walk(key, ChainHead(), items, cp.size, cp, trusted, verifier)
        tiles = extend_tiles(0, {}, [record_leaf_hash(value) for _, value in read])
        differing = self._tiles.put_many(key, tiles)
        if differing:
            self._alarm(key, "tile_mismatch", None, f"tiles {', '.join(map(str, differing[:5]))} are stored with "
                                                    "other hashes than the verified entries give")
        return len(tiles)

    def _proof_from_tiles(self, key: str, cp: Checkpoint, index: int) -> list[bytes] | None:
        """The proof of leaf ``index`` in ``cp``'s tree from the stored tiles, or None when a tile
        it needs is missing (a chain signed before tiles). Tiles are not trusted: the proof is
        checked against the signed root with the leaf its tile holds, and one that fails is
        returned all the same, so that it fails as an altered entry's proof does (integrity
        ``altered``), with an error logged naming the tiles."""
        if self._tiles is None:
            return None
        tiles = self._tiles.get_many(key, inclusion_tiles(index, cp.size))
        try:
            proof = inclusion_proof_from_tiles(index, cp.size, tiles)
            leaf = leaf_from_tiles(index, cp.size, tiles)
        except TileError:
            return None
        try:
            verify_inclusion(leaf, index, cp.size, proof, cp.root_bytes)
        except ProofError as exc:
            logger.error("the stored tiles do not rebuild the signed root: the tiles table was changed",
                         extra={"chain": key, "seq": index + 1, "size": cp.size, "detail": str(exc)})
        return proof

    def _store_tiles(self, key: str, anchor: StoredCheckpoint | None, size: int,
                     read: list[tuple[int | None, object]]) -> None:
        """Store the tiles of the tree of ``size`` leaves that are not stored yet (decision 0026):
        from the right-edge tiles of the anchor's size, checked against its compact range, and the
        entries just verified (``read``: no other entry is read). A chain whose anchor has no
        tiles (signed before them) gets none, unless the entries were all re-read from seq 1. A
        tile already stored with other bytes is left as it is, with a tamper alarm."""
        if self._tiles is None:
            return
        base, edges = 0, {}
        from_genesis = bool(read) and read[0][0] == 1
        if anchor is not None and anchor.checkpoint.size > 0 and not from_genesis:
            base = anchor.checkpoint.size
            frontier = _compact(base, anchor.frontier)
            if frontier is None or frontier.root().hex() != anchor.checkpoint.root:
                return  # alarmed by _resume; and then the entries were re-read from seq 1
            edges = self._tiles.get_many(key, edge_tiles(base))
            try:
                usable = edge_roots(base, edges) == list(frontier.hashes)
            except TileError:
                logger.info("chain signed before tiles: its checkpoints are stored without tiles",
                            extra={"chain": key, "size": size})
                return
            if not usable:
                self._alarm(key, "tile_mismatch", base,
                            f"the right-edge tiles stored at size {base} do not fold to the signed checkpoint's "
                            "compact range: the tiles table was changed; no tiles are stored for this chain until "
                            "its entries are re-read")
                return
        hashes = [(seq, value) for seq, value in read if seq is not None and seq > base]
        if [seq for seq, _ in hashes] != list(range(base + 1, size + 1)):
            return  # not the entries of base+1..size (cannot happen after a verified walk)
        tiles = extend_tiles(base, edges, [record_leaf_hash(value) for _, value in hashes])
        differing = self._tiles.put_many(key, tiles)
        if differing:
            self._alarm(key, "tile_mismatch", None,
                        f"tiles {', '.join(map(str, differing[:5]))} are stored with other hashes than the verified "
                        "entries give: the tiles table was changed (inclusion proofs from them will fail)")

    # -- verify before signing -------------------------------------------------------------------
    def _verified(self, key: str, anchor: StoredCheckpoint | None, size: int,
                  trusted: list[PublicKeyInfo], *, tap: list | None = None) -> _Verified:
        """The verified state of entries 1..``size``, resumed from ``anchor`` (a stored checkpoint
        of size <= ``size``, or None) once it is authenticated; ``SigningRefused`` otherwise.
        ``tap``: receives ``(seq, hash)`` of every entry read (all verified when this returns)."""
        verifier = signature_verifier_for(trusted)
        anchor_cp = anchor.checkpoint if anchor is not None and anchor.checkpoint.size > 0 else None
        if anchor_cp is not None:
            if anchor_cp.chain_key != key:
                self._refuse(key, "wrong_chain", anchor_cp.size,
                             f"the checkpoint stored at size {anchor_cp.size} is one of {anchor_cp.chain_key}")
            try:
                verify_checkpoint(anchor_cp, trusted, verifier)
            except CheckpointError as exc:
                self._refuse(key, exc.reason, anchor_cp.size,
                             f"the previous signed checkpoint (size {anchor_cp.size}) does not verify: {exc.detail}")
        start, items = self._resume(key, anchor, size)
        if tap is not None:
            items = _tapped(items, tap)
        return self._walk(key, start, items, size, anchor_cp, trusted, verifier)

    def _resume(self, key: str, anchor: StoredCheckpoint | None, size: int) -> tuple[ChainHead, Iterator[dict]]:
        """Where verification starts: the authenticated state at the anchor, and the items after it."""
        if anchor is None or anchor.checkpoint.size == 0:
            return ChainHead(), iter(self._journal.raw_items(key, 1, size))
        cp = anchor.checkpoint
        frontier = _compact(cp.size, anchor.frontier)
        if frontier is None or frontier.root().hex() != cp.root:
            found = f"root {frontier.root().hex()}" if frontier is not None else "no compact range (malformed)"
            detail = (f"the compact range stored with the signed checkpoint at size {cp.size} gives {found}, "
                      f"not its signed root {cp.root}: the checkpoint item's unsigned frontier attribute was changed")
            self._alarm(key, "frontier_mismatch", cp.size, detail)
            return self._from_genesis(key, cp.size, size, detail)
        hexes = tuple(anchor.frontier)
        if anchor.last_hash is not None:
            if _tail_matches(cp.size, frontier, anchor.last_hash, anchor.last_path):
                start = ChainHead(cp.size, anchor.last_hash, hexes)
                return start, iter(self._journal.raw_items(key, cp.size + 1, size))
            self._alarm(key, "frontier_mismatch", cp.size,
                        f"the last entry hash stored with the signed checkpoint at size {cp.size} "
                        f"({anchor.last_hash!r:.80}) is not tied to its signed root by the stored last_path: the "
                        "checkpoint item's unsigned attributes were changed; re-reading its last subtree instead")
        return self._from_last_subtree(key, cp.size, hexes, size)

    def _from_last_subtree(self, key: str, anchor_size: int, hexes: tuple[str, ...],
                           size: int) -> tuple[ChainHead, Iterator[dict]]:
        """For a checkpoint stored without its last entry hash: re-read the entries of the smallest
        perfect subtree of its frontier, which the signed root then authenticates. The range
        before them is ``frontier[:-1]``; their first entry's ``prev_hash`` is in the subtree."""
        width = anchor_size & -anchor_size
        first = anchor_size - width + 1
        items = iter(self._journal.raw_items(key, first, size))
        head_item = next(items, None)
        if (head_item is None or _seq_of(head_item) != first) and self._entries_expire:
            # The event journal drops entries after 30 days: link to the stored last entry, as
            # checkpoints written before decision 0019 did, this once (the next one stores its hash).
            return self._from_stored_last_entry(key, anchor_size, hexes, size)
        if head_item is None:
            items = iter(())
        else:
            items = itertools.chain([head_item], items)
        if first == 1:
            return ChainHead(), items
        # The subtree's first entry links to the entry before it, which the signed root covers
        # through this entry's own hash: its stored prev_hash is checked by the root, not here.
        prev = head_item.get("prev_hash") if isinstance(head_item, dict) and _seq_of(head_item) == first else None
        usable = is_hash_hex(prev) and prev != GENESIS_PREV_HASH
        return ChainHead(first - 1, prev if usable else _placeholder(first - 1), hexes[:-1]), items

    def _from_stored_last_entry(self, key: str, anchor_size: int, hexes: tuple[str, ...],
                                size: int) -> tuple[ChainHead, Iterator[dict]]:
        try:
            record = self._journal.get(key, anchor_size)
        except RecordError as exc:
            self._refuse(key, exc.reason, anchor_size, f"seq {anchor_size}: {exc.detail}")
        if record is None:
            self._refuse(key, "gap", anchor_size, f"seq {anchor_size}, the last entry of the signed checkpoint at "
                                                  f"size {anchor_size}, is missing")
        if not record.intact:
            self._refuse(key, "hash_mismatch", anchor_size,
                         f"seq {anchor_size}: field hash is {record.hash} but the record's canonical bytes hash to "
                         f"{record.recomputed_hash}: a hashed field was changed after sealing")
        logger.warning("checkpoint stored without its last entry hash and its subtree expired: linking to the "
                       "stored entry", extra={"chain": key, "size": anchor_size})
        return ChainHead(anchor_size, record.hash, hexes), iter(self._journal.raw_items(key, anchor_size + 1, size))

    def _from_genesis(self, key: str, anchor_size: int, size: int, why: str) -> tuple[ChainHead, Iterator[dict]]:
        items = iter(self._journal.raw_items(key, 1, size))
        if not self._entries_expire:
            return ChainHead(), items
        first = next(items, None)
        if first is None or _seq_of(first) != 1:
            self._refuse(key, "frontier_mismatch", anchor_size,
                         f"{why}; this chain's entries from seq 1 have expired from the table, so it cannot be "
                         "recomputed here (run the full verifier, which reads the archive)", alarm=False)
        return ChainHead(), itertools.chain([first], items)

    def _walk(self, key: str, start: ChainHead, items: Iterator[dict], size: int, anchor: Checkpoint | None,
              trusted: list[PublicKeyInfo], verifier) -> _Verified:
        """Verify the entries after ``start`` up to ``size``: hashes, links, contiguity, and the
        anchor's signed root when the walk reaches its size."""
        tenant_id, chain = parse_chain_key(key)

        # Entries the anchor's signature covers were proven when it was signed; the others must
        # carry a valid write proof, or this signature would launder a forged append.
        proof_checks = ([WriteProofCheck(self._proofs.problem, after_seq=anchor.size if anchor is not None else 0)]
                        if self._proofs is not None else [])

        def run(records, begin: ChainHead, checkpoints: list[Checkpoint]) -> VerificationReport:
            return verify_chain(records, tenant_id=tenant_id, chain=chain, checkpoints=checkpoints, keys=trusted,
                                signature_verifier=verifier, start=begin, extra_checks=proof_checks)

        anchors = [anchor] if anchor is not None else []
        # Resumed right at the anchor, from its signed last entry hash: a failure of the next entry
        # may come from the anchor's own last entry having been rewritten (``_require``).
        signed_last = start if anchor is not None and start.size == anchor.size else None
        if start.size == size:  # the anchor is at ``size`` (compact_at at a checkpoint's size)
            self._require(key, run((), start, anchors), size, size)
            return _Verified(start.compact_range(), start.last_hash, None)
        # Two passes over one read: entries up to size - 1, then the last one, so that the compact
        # range before the last entry is known (what ties the last entry hash to the next root).
        before = run(itertools.islice(items, size - 1 - start.size), start,
                     [cp for cp in anchors if cp.size < size])
        self._require(key, before, size - 1, size, signed_last)
        last = run(items, before.head, [cp for cp in anchors if cp.size == size])
        self._require(key, last, size, size, signed_last)
        frontier = last.head.compact
        return _Verified(last.head.compact_range(), last.head.last_hash, list(before.head.compact[len(frontier) - 1:]))

    def _blame_anchor_entry(self, key: str, signed_last: ChainHead, report: VerificationReport) -> None:
        """The entry after the anchor fails: when the anchor's own last entry is no longer the
        one it signed (rewritten, and the entries after it relinked), name that entry instead."""
        seq = signed_last.size
        try:
            stored = self._journal.get(key, seq)
        except RecordError:
            stored = None  # malformed: the full verifier names it; the failure found stands
        if stored is not None and stored.hash != signed_last.last_hash:
            self._refuse(key, "checkpoint_mismatch", seq,
                         f"seq {seq} has hash {stored.hash} but the signed checkpoint at size {seq} covers it with "
                         f"hash {signed_last.last_hash}: seq {seq} was rewritten after it was signed (then: "
                         f"{report.detail})")

    def _require(self, key: str, report: VerificationReport, expected: int, head: int,
                 signed_last: ChainHead | None = None) -> None:
        if not report.ok:
            if signed_last is not None and report.first_bad_seq == signed_last.size + 1:
                self._blame_anchor_entry(key, signed_last, report)
            self._refuse(key, report.reason, report.first_bad_seq, report.detail)
        if report.size != expected:
            missing = report.size + 1
            self._refuse(key, "gap", missing,
                         f"seq {missing} is missing: the chain's head is seq {head} but its entries stop at seq "
                         f"{report.size}")

    def _alarm(self, key: str, reason: str, seq: int | None, detail: str) -> None:
        tenant_id, chain = parse_chain_key(key)
        _raise_alarm(self._alarms, tenant_id, chain, seq, reason, detail, SIGNER_ALARM_SOURCE, evidence=detail)

    def _refuse(self, key: str, reason: str, seq: int | None, detail: str, *, alarm: bool = True) -> NoReturn:
        if alarm:
            self._alarm(key, reason, seq, detail)
        tenant_id, chain = parse_chain_key(key)
        where = f" at seq {seq}" if seq is not None else ""
        raise SigningRefused(f"{chain} of {tenant_id} was not signed: {reason}{where}: {detail}", reason=str(reason),
                             first_bad_seq=seq)


def _tapped(items: Iterator[dict], sink: list) -> Iterator[dict]:
    for item in items:
        sink.append((_seq_of(item), item.get("hash") if isinstance(item, dict) else None))
        yield item


def _placeholder(size: int) -> str:
    """A ``ChainHead.last_hash`` that no entry links to, where the stored one is unusable: the
    next entry then fails its link check (``broken_link``) at its own seq."""
    return "f" * 64 if size else GENESIS_PREV_HASH


class CheckpointCadence:
    """Signs a chain's checkpoint at every ``every``-th entry, where entries are seen after the
    fact: the journal stream (on AWS its own function, so the internet-facing API holds no
    signing permission for it) or, for stacks without a stream, the ledger service's
    ``after_seal``. A refusal is alarmed by the checkpoint service; any other failure is logged:
    the 5-minute schedule signs whatever is left."""

    def __init__(self, checkpoints: CheckpointService, every: int) -> None:
        self._checkpoints = checkpoints
        self._every = every

    def after_entry(self, record) -> None:
        if record.seq % self._every:
            return
        try:
            self._checkpoints.checkpoint(record.tenant_id, record.chain)
        except SigningRefused:
            pass  # alarmed by the service; the chain stays unsigned until it is looked into
        except Exception:
            logger.exception("checkpoint at the cadence failed; the schedule will sign it",
                             extra={"chain": record.chain, "seq": record.seq})


class ChainCheckpoints:
    """``checkpoint`` of any chain of a tenant, as ``POST …/checkpoints`` asks: the event journal
    lives in the events table and is signed by its own ``CheckpointService`` (the journal's found no
    entry there and answered 404 "no entry yet" for a journal of hundreds)."""

    def __init__(self, journal: CheckpointService, events: CheckpointService) -> None:
        self._journal = journal
        self._events = events

    def checkpoint(self, tenant_id: str, chain: str) -> Checkpoint | None:
        from chalicelib.services.events import EVENTS_CHAIN

        service = self._events if chain == EVENTS_CHAIN else self._journal
        return service.checkpoint(tenant_id, chain)
