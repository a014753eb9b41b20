"""The independent witness, and the signer's side that submits checkpoints to it (decision 0024).

``Witness`` co-signs a chain's newest signed checkpoint only when it is consistent with the last
one it co-signed for that chain: same root at the same size, or a larger size with a valid
Merkle consistency proof. It refuses a smaller size (a rollback) and a different root (a fork),
and raises a tamper alarm for both. It trusts only what it keeps itself: the log's public key
it was configured with (never a key published in the ops table) and its own view in write-once
storage, each entry signed by its own key. On AWS it is its own Lambda function with its own
role and KMS key, and can live in another account; locally it runs in process with a key file.

``WitnessSubmitter`` runs after the scheduled signer: for each chain it asks the witness what it
saw last, builds the consistency proof from the stored compact range at that size and the
entries since (``merkle.consistency_proof_after``), submits, and keeps the cosignature in the
ops table, where exports and the API read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from chalicelib.domain.checkpoint import Checkpoint, CheckpointError, PublicKeyInfo, verify_checkpoint
from chalicelib.domain.errors import ScelleError
from chalicelib.domain.merkle import (
    CompactRange,
    ProofError,
    consistency_proof_after,
    record_leaf_hash,
    verify_consistency,
)
from chalicelib.domain.records import chain_key as make_chain_key
from chalicelib.domain.records import parse_chain_key, utc_timestamp
from chalicelib.domain.witness import (
    Cosignature,
    CosignatureError,
    WitnessBehind,
    WitnessRefused,
    verify_cosignature,
)
from chalicelib.observability import logger
from chalicelib.ports.signatures import key_binding_problem, signature_verifier_for, verify_signature
from chalicelib.ports.witness import WitnessClient, WitnessView

WITNESS_ALARM_SOURCE = "witness"


class Witness:
    def __init__(self, signer, view: WitnessView, log_keys: Callable[[], list[PublicKeyInfo]], *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), alarms=None) -> None:
        """``signer``: the witness's own P-256 key (``sign``, ``key_id``, ``public_key_pem``).
        ``log_keys``: the log's signing keys the witness was given (pinned, not read from the
        log's tables)."""
        self._signer = signer
        self._view = view
        self._log_keys = log_keys
        self._clock = clock
        self._alarms = alarms

    @property
    def key_id(self) -> str:
        return self._signer.key_id

    def public_key_pem(self) -> str:
        return self._signer.public_key_pem()

    def latest(self, chain_key: str) -> Cosignature | None:
        """The newest cosignature the witness keeps for the chain, checked against its own key."""
        text = self._view.latest(chain_key)
        if text is None:
            return None
        try:
            found = Cosignature.from_text(text)
            if found.chain_key != chain_key or found.witness_key_id != self.key_id:
                raise CosignatureError(f"it is {found.witness_key_id}'s cosignature of {found.chain_key}")
            verify_cosignature(found, found.checkpoint, self._verify_own)
        except (CosignatureError, CheckpointError) as exc:
            self._refuse(chain_key, "witness_view_damaged", None,
                         f"the newest object of the witness's view does not verify ({exc.detail}): someone else "
                         "wrote it; the witness co-signs nothing for this chain until it is looked into")
        return found

    def add_checkpoint(self, checkpoint: Checkpoint, old_size: int, proof: Sequence[bytes]) -> Cosignature:
        key = checkpoint.chain_key
        log_keys = self._log_keys()
        try:
            verify_checkpoint(checkpoint, log_keys, signature_verifier_for(log_keys))
        except CheckpointError as exc:
            raise WitnessRefused(f"not a checkpoint of the log: {exc.detail}", reason=exc.reason,
                                 size=checkpoint.size) from None
        seen = self.latest(key)
        seen_size = seen.size if seen is not None else 0
        if seen is not None and checkpoint.size == seen.size:
            if checkpoint.root != seen.root:
                self._refuse(key, "witness_fork", checkpoint.size,
                             f"two roots for size {checkpoint.size}: {checkpoint.root} now, {seen.root} co-signed "
                             f"at {seen.timestamp}: the log shows two histories")
            return seen
        if old_size != seen_size:
            # The submitter did not know what the witness last co-signed. For a smaller size too:
            # two honest submitters (a scheduled run, an export) raced, and it re-reads; a log that
            # went back is caught by the submitter then, and here once it states the witness's size.
            raise WitnessBehind(f"the witness last co-signed size {seen_size} of this chain, not {old_size}",
                                known_size=seen_size)
        if seen is not None and checkpoint.size < seen.size:
            self._refuse(key, "witness_rollback", checkpoint.size,
                         f"a checkpoint of size {checkpoint.size} was submitted after the witness co-signed size "
                         f"{seen.size} (root {seen.root}): the log went back")
        if seen is not None:
            try:
                verify_consistency(seen.size, checkpoint.size, bytes.fromhex(seen.root), checkpoint.root_bytes,
                                   proof)
            except ProofError as exc:
                self._refuse(key, "witness_inconsistent", checkpoint.size,
                             f"size {checkpoint.size} (root {checkpoint.root}) does not extend the co-signed size "
                             f"{seen.size} (root {seen.root}): {exc.detail}")
        unsigned = Cosignature(self.key_id, utc_timestamp(self._clock()), checkpoint)
        cosigned = unsigned.with_signature(self._signer.sign(unsigned.signed_message()))
        if not self._view.put(cosigned):
            # Another run co-signed this size first: keep one answer, the stored one.
            stored = self.latest(key)
            if stored is None or stored.size != checkpoint.size or stored.root != checkpoint.root:
                raise WitnessBehind("the witness's view moved while co-signing; submit again",
                                    known_size=stored.size if stored is not None else 0)
            return stored
        return cosigned

    def _verify_own(self, key_id: str, message: bytes, signature: bytes) -> bool:
        return key_id == self.key_id and verify_signature(self.public_key_pem(), message, signature)

    def _refuse(self, chain_key: str, reason: str, size: int | None, detail: str):
        if self._alarms is not None:
            from chalicelib.services.tamper_alarms import TamperAlarm

            tenant_id, chain = parse_chain_key(chain_key)
            try:
                self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, size, reason, detail, WITNESS_ALARM_SOURCE,
                                                     evidence=f"{reason}@{size}"))
            except Exception:
                logger.exception("witness alarm not stored", extra={"chain": chain_key, "reason": reason})
        raise WitnessRefused(detail, reason=reason, size=size)


# ---- the signer's side ---------------------------------------------------------------------------


WITNESS_KEYS_PK = "WITNESSKEYS"


def published_witness_keys(ops) -> list[PublicKeyInfo]:
    """The witness keys that co-signed checkpoints (``GET /v1/keys``, role ``witness``). A key
    whose PEM does not match the fingerprint its id carries is left out (and logged): a PEM
    swapped in the ops table never reaches an auditor."""
    found, after = [], None
    while True:
        page, after = ops.query(WITNESS_KEYS_PK, limit=100, after_sk=after, descending=False)
        for item in page:
            try:
                key = PublicKeyInfo(item["sk"], item["not_before"], None, item["public_key_pem"])
            except (CheckpointError, KeyError):
                continue
            problem = key_binding_problem(key)
            if problem:
                logger.error("witness key refused", extra={"key_id": key.key_id, "problem": problem})
                continue
            found.append(key)
        if after is None:
            return found


def published_keys_with_roles(key_registry, ops) -> list[tuple[PublicKeyInfo, str]]:
    """What ``GET /v1/keys`` lists: the log's signing keys (role ``log``), then the witness keys
    (role ``witness``)."""
    return [(k, "log") for k in key_registry.published()] + [(k, "witness") for k in published_witness_keys(ops)]


def cosignature_pk(chain_key: str) -> str:
    return f"COSIG#{chain_key}"


def cosignature_sk(size: int, witness_key_id: str) -> str:
    return f"{size:012d}#{witness_key_id}"


class WitnessSubmitter:
    """Submits each chain's newest signed checkpoint to the witness and keeps the cosignature."""

    def __init__(self, witness: WitnessClient, *, checkpoint_store, ops, alarms=None) -> None:
        self._witness = witness
        self._checkpoints = checkpoint_store
        self._ops = ops
        self._alarms = alarms
        self._published: set[str] = set()

    def submit(self, tenant_id: str, chain: str, store) -> Cosignature | None:
        """Co-sign the chain's newest checkpoint (``store``: the chain's table). None when the chain
        has no checkpoint yet. ``WitnessRefused`` when the witness refuses (it raised the alarm)."""
        key = make_chain_key(tenant_id, chain)
        newest = self._checkpoints.latest(key)
        if newest is None or newest.checkpoint.size == 0:
            return None
        checkpoint = newest.checkpoint
        try:
            return self._submit(key, store, checkpoint)
        except WitnessRefused as refused:
            self._alarm(key, refused.reason, refused.size, refused.detail)
            raise

    def _submit(self, key: str, store, checkpoint: Checkpoint) -> Cosignature | None:
        tenant_id, chain = parse_chain_key(key)
        for _ in range(5):
            seen = self._witness.latest(key)
            if seen is not None and seen.size > checkpoint.size:
                # Another submitter (an export, the schedule) got a larger checkpoint co-signed since
                # this one was read: when the table holds that very checkpoint, its cosignature
                # covers this one's entries too, and the submit ends there. Only a table holding
                # nothing as large is a rollback; another root at that size, a fork.
                stored = self._checkpoints.latest_at_or_below(key, seen.size)
                if stored is not None and stored.checkpoint.size == seen.size:
                    if stored.checkpoint.root == seen.root:
                        self._keep(seen)
                        return seen
                    self._alarm(key, "witness_fork", seen.size,
                                f"the witness co-signed size {seen.size} with root {seen.root} but the checkpoint "
                                f"stored at that size has root {stored.checkpoint.root}: the log shows two histories")
                    return None
                self._alarm(key, "witness_ahead", seen.size,
                            f"the witness co-signed size {seen.size} (root {seen.root}) but the checkpoints stored "
                            f"hold no checkpoint of that size (newest read: size {checkpoint.size}): checkpoints "
                            "were removed or the table rolled back")
                return None
            if seen is not None and (seen.size, seen.root) == (checkpoint.size, checkpoint.root):
                self._keep(seen)
                return seen
            old_size = seen.size if seen is not None else 0
            proof = self._proof(key, store, seen, checkpoint) if seen is not None else []
            try:
                cosigned = self._witness.add_checkpoint(checkpoint, old_size, proof)
            except WitnessBehind:
                continue
            self._keep(cosigned)
            return cosigned
        raise ScelleError(f"{chain} of {tenant_id}: the witness kept moving; the next run submits again")

    def has_cosigned_newest(self, tenant_id: str, chain: str) -> bool:
        """True when the chain's newest checkpoint already has this witness's cosignature kept
        (one ops read: the schedule submits only what is new)."""
        key = make_chain_key(tenant_id, chain)
        newest = self._checkpoints.latest(key)
        if newest is None or newest.checkpoint.size == 0:
            return True
        kept = self._ops.get(cosignature_pk(key), cosignature_sk(newest.checkpoint.size, self._witness.key_id))
        try:
            return kept is not None and Cosignature.from_text(kept["text"]).root == newest.checkpoint.root
        except (CosignatureError, CheckpointError, KeyError):
            return False  # not a readable cosignature of this root: submit, and the witness decides

    def _proof(self, key: str, store, seen: Cosignature, checkpoint: Checkpoint) -> list[bytes]:
        """Consistency proof from the witnessed size to the checkpoint's, from the stored compact
        range at or below the witnessed size and the entries after it (never from seq 1)."""
        base = self._checkpoints.latest_at_or_below(key, seen.size)
        compact = None
        if base is not None and base.checkpoint.size > 0:
            try:
                compact = CompactRange.from_state(base.checkpoint.size, base.frontier)
            except ProofError:
                compact = None
            if compact is not None and compact.root().hex() != base.checkpoint.root:
                compact = None  # unsigned state that does not rebuild its signed root: recompute
        first = compact.size + 1 if compact is not None else 1
        compact = compact or CompactRange()
        new_leaves: list[bytes] = []
        expected = first
        for item in store.raw_items(key, first, checkpoint.size):
            if int(item.get("seq", 0)) != expected:
                # Not evidence of a fork: the entries are not all here (expired events, a gap the
                # verifiers name). No proof can be built this run; nothing is alarmed from here.
                raise ScelleError(f"{key}: entry {expected} cannot be read to build the witness's proof")
            expected += 1
            leaf = record_leaf_hash(item["hash"])
            if compact.size < seen.size:
                compact.append(leaf)
            else:
                new_leaves.append(leaf)
        if compact.size != seen.size or compact.root().hex() != seen.root:
            raise WitnessRefused(f"the chain's entries 1..{seen.size} do not give the root {seen.root} the witness "
                                 "co-signed at that size: the chain was rewritten after the witness saw it",
                                 reason="witness_fork", size=seen.size)
        return consistency_proof_after(compact, new_leaves)

    def _keep(self, cosignature: Cosignature) -> None:
        self._ops.put_once(cosignature_pk(cosignature.chain_key),
                           cosignature_sk(cosignature.size, cosignature.witness_key_id),
                           {"text": cosignature.to_text(), "size": cosignature.size})
        if cosignature.witness_key_id not in self._published:
            # Published once, from its first cosignature on (GET /v1/keys, role "witness").
            self._ops.put_once(WITNESS_KEYS_PK, cosignature.witness_key_id,
                               {"public_key_pem": self._witness.public_key_pem(), "not_before": cosignature.timestamp})
            self._published.add(cosignature.witness_key_id)

    def cosignatures(self, chain_key: str, *, up_to: int | None = None) -> list[Cosignature]:
        """The kept cosignatures of a chain, oldest first (what exports carry)."""
        found, after = [], None
        while True:
            page, after = self._ops.query(cosignature_pk(chain_key), limit=500, after_sk=after, descending=False)
            for item in page:
                try:
                    cosignature = Cosignature.from_text(item["text"])
                except (CosignatureError, CheckpointError, KeyError):
                    continue  # not one: exports and verifiers check what they carry anyway
                if up_to is None or cosignature.size <= up_to:
                    found.append(cosignature)
            if after is None:
                return found

    def _alarm(self, key: str, reason: str, size: int | None, detail: str) -> None:
        if self._alarms is None:
            return
        from chalicelib.services.tamper_alarms import TamperAlarm

        tenant_id, chain = parse_chain_key(key)
        self._alarms.raise_alarm(TamperAlarm(tenant_id, chain, size, reason, detail, WITNESS_ALARM_SOURCE,
                                             evidence=f"{reason}@{size}"))
