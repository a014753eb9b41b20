"""Receipt proofs: a short code and a QR payload on each receipt, and their public check.

* **On the receipt.** ``receipt_proof(record)`` gives ``code`` (the first 10 hex digits of the
  receipt's sealed hash, upper case, as ``XXXXX-XXXXX``: typed by hand at the verification page),
  ``qr`` (``{public_base_url}/check?t=<tenant>&c=<chain>&s=<seq>&h=<full hash>``, the text of a QR
  code and the check URL to print: the web console's public check page, for people; the till
  renders it — no image is made here) and ``verify_url`` (the same query on
  ``/v1/verify/receipt``: the JSON check, for programs).
* **Public check.** ``ReceiptVerifier.verify`` answers only for a sale receipt whose chain, seq
  and hash (or a prefix of at least 10 hex digits) all match; anything else is the same "not
  found", so nothing can be learnt by guessing. It confirms what the holder already has (the
  receipt's date and total) plus "genuine, sealed, covered by signed checkpoint N at T" with the
  inclusion proof, so that the holder can check it offline with the published key. Training
  (test-mode) receipts are said to be training data, never a fiscal receipt.
* **Proofs without reading the chain.** The proof is built from the tiles of the chain's Merkle
  tree (decision 0026): the newest checkpoint (one query) and at most two tiles per level (one
  BatchGetItem), whatever the chain's length. A chain signed before tiles existed has none: its
  proof is built from the compact ranges every stored checkpoint keeps and the leaves near the
  receipt (``inclusion_from_frontiers``: all the chain's checkpoints, about 600 leaves). Either
  way the proof is checked against the signed root before it is returned; one that fails (an
  altered entry, or altered tiles) answers ``altered``.
* **Rate limit.** ``TokenBucket``: per client IP, in memory, per API instance (a Lambda container
  or the local server): 20 requests in a burst, one more every 3 seconds. Several instances each
  allow as much; API Gateway throttling caps the total (docs/exports.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import NotFound, TooManyRequests
from chalicelib.domain.merkle import ProofError, node_hash, record_leaf_hash, root, verify_inclusion
from chalicelib.domain.records import RecordError, chain_key, is_hash_hex
from chalicelib.domain.tiles import TileError, inclusion_proof_from_tiles, proof_tiles

CODE_DIGITS = 10
MIN_PREFIX = CODE_DIGITS
LEAF_READ_MAX = 128
PREFETCH = 256
MESSAGES = {
    "genuine": {
        "fr": "Ticket authentique : scellé et couvert par le checkpoint signé n° {size} du {timestamp}.",
        "en": "Genuine receipt: sealed and covered by signed checkpoint {size} of {timestamp}.",
        "nl": "Echt kasticket: verzegeld en gedekt door ondertekend checkpoint {size} van {timestamp}.",
    },
    "sealed": {
        "fr": "Ticket authentique et scellé ; le prochain checkpoint signé le couvrira sous peu.",
        "en": "Genuine, sealed receipt; the next signed checkpoint will cover it shortly.",
        "nl": "Echt, verzegeld kasticket; het volgende ondertekende checkpoint dekt het binnenkort.",
    },
    "training": {
        "fr": "Données de formation (mode test) : ce n'est pas un ticket fiscal.",
        "en": "Training data (test mode): not a fiscal receipt.",
        "nl": "Oefengegevens (testmodus): geen fiscaal kasticket.",
    },
    "altered": {
        "fr": "Le ticket ne correspond pas à l'enregistrement scellé ; l'anomalie est signalée.",
        "en": "The receipt does not match its sealed record; the anomaly is reported.",
        "nl": "Het kasticket komt niet overeen met zijn verzegelde registratie; de afwijking is gemeld.",
    },
}


def short_code(record_hash: str) -> str:
    head = record_hash[:CODE_DIGITS].upper()
    return f"{head[:5]}-{head[5:]}"


DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # local mode's API (Settings.public_base_url's default)


CHECK_PAGE = "/check"  # the web console's public receipt check (console/js/views/check.js reads t, c, s, h)
CHECK_API = "/v1/verify/receipt"  # the same check as JSON


def receipt_proof(record, base_url: str = DEFAULT_BASE_URL) -> dict[str, str]:
    """The verification code printed on a sale receipt, its QR payload (the console's check page:
    what a person scanning it should see) and the JSON check of the same receipt (for programs);
    ``base_url`` is the public URL of the console and API (``Settings.public_base_url``)."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    query = (f"t={quote(record.tenant_id, safe='')}&c={quote(record.chain, safe='')}&s={record.seq}"
             f"&h={record.hash}")
    return {"code": short_code(record.hash), "qr": f"{base}{CHECK_PAGE}?{query}",
            "verify_url": f"{base}{CHECK_API}?{query}"}


def normalise_prefix(text: str) -> str:
    """A hash or hash prefix as typed: dashes and spaces dropped, lower case."""
    return text.replace("-", "").replace(" ", "").lower()


# ---- rate limit ---------------------------------------------------------------------------------
class TokenBucket:
    """Per-key token buckets in memory (LRU-bounded): ``take(key)`` or ``TooManyRequests``."""

    def __init__(self, capacity: int = 20, refill_seconds: float = 3.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity, self.refill_seconds, self.max_keys = capacity, refill_seconds, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - at) / self.refill_seconds)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = max(1, int((1 - tokens) * self.refill_seconds + 0.999))
                raise TooManyRequests(f"too many verification requests from this address; retry in {wait} s",
                                      retry_after=wait)
            self._buckets[key] = (tokens - 1, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)


# ---- inclusion proofs from checkpoint frontiers ---------------------------------------------------
class _Tree:
    """Roots of ranges of a chain's leaves, from stored compact ranges first, leaves otherwise."""

    def __init__(self, key: str, store, stored_checkpoints) -> None:
        self._key, self._store = key, store
        self._blocks: dict[tuple[int, int], bytes] = {}
        self._leaves: dict[int, bytes] = {}
        self.leaves_read = 0
        for stored in stored_checkpoints:
            size, hashes, start = stored.checkpoint.size, iter(stored.frontier), 0
            for bit in reversed(range(size.bit_length())):
                if size >> bit & 1:
                    self._blocks[(start, bit)] = bytes.fromhex(next(hashes))
                    start += 1 << bit

    def _read(self, begin: int, end: int) -> None:
        for item in self._store.raw_items(self._key, begin + 1, end):
            self._leaves[int(item["seq"]) - 1] = record_leaf_hash(item["hash"])
            self.leaves_read += 1

    def leaf(self, index: int) -> bytes:
        if index not in self._leaves:
            self._read(index, index + 1)
        if index not in self._leaves:
            raise ProofError(f"leaf {index} is missing from the chain")
        return self._leaves[index]

    def mth(self, begin: int, end: int) -> bytes:
        width = end - begin
        if width == 1:
            return self.leaf(begin)
        if width & (width - 1) == 0 and begin % width == 0:
            cached = self._blocks.get((begin, width.bit_length() - 1))
            if cached is not None:
                return cached
            if width <= LEAF_READ_MAX:
                if any(i not in self._leaves for i in range(begin, end)):
                    self._read(begin, end)
                value = root([self.leaf(i) for i in range(begin, end)])
                self._blocks[(begin, width.bit_length() - 1)] = value
                return value
        split = 1 << ((width - 1).bit_length() - 1)
        return node_hash(self.mth(begin, begin + split), self.mth(begin + split, end))

    def path(self, index: int, begin: int, end: int) -> list[bytes]:
        """RFC 6962 PATH(index, D[begin:end])."""
        if end - begin == 1:
            return []
        split = 1 << ((end - begin - 1).bit_length() - 1)
        if index < begin + split:
            return [*self.path(index, begin, begin + split), self.mth(begin + split, end)]
        return [*self.path(index, begin + split, end), self.mth(begin, begin + split)]


def inclusion_from_frontiers(key: str, store, stored_checkpoints, seq: int, target) -> tuple[list[bytes], int]:
    """The inclusion proof of entry ``seq`` in the tree of checkpoint ``target`` (a stored
    checkpoint), and how many leaves had to be read."""
    size = target.checkpoint.size
    usable = [s for s in stored_checkpoints if s.checkpoint.size <= size]
    tree = _Tree(key, store, usable)
    window = (seq - 1) // PREFETCH * PREFETCH  # one query for the leaves around the receipt
    tree._read(window, min(window + PREFETCH, size))
    proof = tree.path(seq - 1, 0, size)
    return proof, tree.leaves_read


def inclusion_from_tiles(key: str, tile_store, seq: int, size: int) -> list[bytes] | None:
    """The inclusion proof of entry ``seq`` in the tree of ``size`` leaves from the stored tiles
    (one BatchGetItem), unverified; None when a tile it needs is not stored."""
    tiles = tile_store.get_many(key, proof_tiles(seq - 1, size))
    try:
        return inclusion_proof_from_tiles(seq - 1, size, tiles)
    except TileError:
        return None


class ReceiptVerifier:
    def __init__(self, *, journal_store, checkpoint_store, tile_store=None,
                 limiter: TokenBucket | None = None) -> None:
        """``tile_store``: the tiles of the chains' Merkle trees (``ports.tiles.TileStore``);
        without it every proof comes from the checkpoints' compact ranges."""
        self._store = journal_store
        self._checkpoints = checkpoint_store
        self._tiles = tile_store
        self.limiter = limiter or TokenBucket()

    def verify(self, tenant_id: str, chain: str, seq: int, hash_text: str, *, client: str) -> dict[str, Any]:
        self.limiter.take(client or "unknown")
        not_found = NotFound("no sealed receipt matches these values; check the code or scan the receipt again")
        prefix = normalise_prefix(hash_text)
        if ".sales." not in chain:
            raise not_found
        try:
            key = chain_key(tenant_id, chain)
        except RecordError:
            raise not_found from None
        record = self._store.get(key, seq)
        if record is None or record.type != "sale" or not record.hash.startswith(prefix):
            raise not_found
        data = record.data
        totals = data.get("totals") or {}
        receipt = {
            "chain": record.chain,
            "seq": record.seq,
            "number": f"{data.get('register_id', '')}/{record.seq}",
            "kind": data.get("kind"),
            "business_date": data.get("business_date"),
            "occurred_at": data.get("occurred_at"),
            "total": _euros(totals.get("incl")),
            "currency": data.get("currency", "EUR"),
            "hash": record.hash,
            "code": short_code(record.hash),
            "recorded_at": record.recorded_at,
        }
        if not record.intact:
            return _answer("altered", receipt)
        if record.training:
            return _answer("training", receipt)
        target = self._checkpoints.latest(key)  # the newest covers every entry an older one does
        if target is None or target.checkpoint.size < seq:
            return _answer("sealed", receipt)
        cp = target.checkpoint
        try:
            proof = inclusion_from_tiles(key, self._tiles, seq, cp.size) if self._tiles is not None else None
            if proof is None:  # a chain signed before tiles existed
                proof, _ = inclusion_from_frontiers(key, self._store, self._checkpoints.list(key), seq, target)
            verify_inclusion(record_leaf_hash(record.hash), seq - 1, cp.size, proof, cp.root_bytes)
        except ProofError:
            return _answer("altered", receipt)
        checkpoint = {"size": cp.size, "root": cp.root, "timestamp": cp.timestamp, "key_id": cp.key_id,
                      "text": cp.to_text()}
        inclusion = {"leaf_index": seq - 1, "tree_size": cp.size, "hashes": [h.hex() for h in proof]}
        return _answer("genuine", receipt, checkpoint=checkpoint, proof=inclusion,
                       size=cp.size, timestamp=cp.timestamp)


def _euros(cents: Any) -> str | None:
    if type(cents) is not int:
        return None
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _answer(status: str, receipt: dict[str, Any], *, checkpoint: dict[str, Any] | None = None,
            proof: dict[str, Any] | None = None, **fill: Any) -> dict[str, Any]:
    message = {lang: text.format(**fill) for lang, text in MESSAGES[status].items()}
    return {
        "status": status,
        "genuine": status in ("genuine", "sealed"),
        "fiscal": status in ("genuine", "sealed"),
        "message": message,
        "receipt": receipt,
        "checkpoint": checkpoint,
        "proof": proof,
    }


def is_hex_prefix(text: str) -> bool:
    value = normalise_prefix(text)
    return MIN_PREFIX <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value) and (
        len(value) < 64 or is_hash_hex(value))
