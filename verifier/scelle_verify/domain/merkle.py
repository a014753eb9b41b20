"""RFC 6962 Merkle tree over a chain's record hashes: roots, proofs, and a compact range.

- leaf input  = the 32 raw bytes of a record hash (``bytes.fromhex(record.hash)``)
- leaf hash   = SHA-256(0x00 || leaf input)
- node hash   = SHA-256(0x01 || left || right)
- empty root  = SHA-256("")
- a tree of n > 1 leaves splits at k, the largest power of two < n: root = node(MTH(0..k), MTH(k..n))

Every function works on *leaf hashes* (already prefixed with 0x00 and hashed) and checks its
preconditions before hashing anything. Verification follows transparency-dev/merkle
(``proof/verify.go``); proof generation follows RFC 6962 section 2.1 (PATH and SUBPROOF).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from scelle_verify.domain.errors import ScelleError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class ProofError(ScelleError):
    """A Merkle proof, root or compact range is malformed or does not verify."""

    code = "proof-invalid"
    title = "Merkle proof does not verify"


class RootMismatchError(ProofError):
    """The proof is well-formed but leads to another root than the expected one."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(f"calculated root {calculated.hex()} does not match expected root {expected.hex()}")
        self.expected = expected
        self.calculated = calculated


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def record_leaf_hash(record_hash: str) -> bytes:
    """The leaf hash of a record given its 64-hex ``hash``: SHA-256(0x00 || bytes.fromhex(hash))."""
    raw = bytes.fromhex(record_hash)
    if len(raw) != HASH_SIZE:
        raise ProofError(f"record hash has {len(raw)} bytes, want {HASH_SIZE}")
    return leaf_hash(raw)


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise ProofError(f"{what} has unexpected size {size}, want {HASH_SIZE} bytes")


def _check_hashes(values: Iterable[bytes], what: str) -> None:
    for index, value in enumerate(values):
        _check_hash(value, f"{what}[{index}]")


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size``; requires ``size >= 2``."""
    return 1 << ((size - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], begin: int, end: int) -> bytes:
    """Root of leaves[begin:end] without copying; requires begin < end."""
    compact = CompactRange()
    for index in range(begin, end):
        compact.append(leaves[index])
    return compact.root()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of ``leaf_hashes`` (``EMPTY_ROOT`` when there are none).

    Requires every element to be a 32-byte leaf hash.
    """
    _check_hashes(leaf_hashes, "leaf_hashes")
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of all ``leaf_hashes`` (RFC 6962 PATH).

    Requires 0 <= index < len(leaf_hashes). Hashes are ordered from the leaf up to the root.
    """
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ProofError(f"index is beyond size: {index} >= {size}" if index >= 0 else f"index {index} < 0")
    _check_hashes(leaf_hashes, "leaf_hashes")
    proof: list[bytes] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            proof.append(_mth(leaf_hashes, begin + k, end))
            end = begin + k
        else:
            proof.append(_mth(leaf_hashes, begin, begin + k))
            begin += k
    proof.reverse()
    return proof


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """Proof that the tree of the first ``size1`` leaves is a prefix of the whole tree (SUBPROOF).

    Requires 0 < size1 <= size2 = len(leaf_hashes). The proof is empty when size1 == size2.
    """
    size2 = len(leaf_hashes)
    if not 0 < size1 <= size2:
        raise ProofError(f"requires 0 < size1 <= size2, got size1={size1}, size2={size2}")
    _check_hashes(leaf_hashes, "leaf_hashes")
    return _consistency(size1, size2, lambda begin, end: _mth(leaf_hashes, begin, end))


def consistency_proof_after(old: CompactRange, new_leaves: Sequence[bytes]) -> list[bytes]:
    """The same proof, from the tree of ``old.size`` leaves to ``old.size + len(new_leaves)``,
    knowing only the old tree's compact range and the leaves appended since (what a signer has
    read anyway: no older leaf is needed).

    Every node SUBPROOF asks for either ends at or before ``old.size`` — then it is one of the
    old compact range's perfect subtrees — or starts at or after it (RFC 6962 section 2.1.2).
    """
    size1, size2 = old.size, old.size + len(new_leaves)
    if not 0 < size1 <= size2:
        raise ProofError(f"requires 0 < size1 <= size2, got size1={size1}, size2={size2}")
    _check_hashes(new_leaves, "new_leaves")
    subtrees, begin = {}, 0
    for bit, value in zip((b for b in range(size1.bit_length() - 1, -1, -1) if size1 >> b & 1), old.hashes,
                          strict=True):
        subtrees[(begin, begin + (1 << bit))] = value
        begin += 1 << bit

    def subtree(start: int, end: int) -> bytes:
        if end <= size1:
            return subtrees[(start, end)]
        return _mth(new_leaves, start - size1, end - size1)

    return _consistency(size1, size2, subtree)


def _consistency(size1: int, size2: int, subtree) -> list[bytes]:
    proof: list[bytes] = []
    begin, end, m, complete = 0, size2, size1, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            proof.append(subtree(begin + k, end))
            end = begin + k
        else:
            proof.append(subtree(begin, begin + k))
            begin += k
            m -= k
            complete = False
    if not complete:
        proof.append(subtree(begin, end))
    proof.reverse()
    return proof


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof for ``index`` in ``size`` into (inner, border) lengths."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        seed = node_hash(seed, sibling) if (index >> i) & 1 == 0 else node_hash(sibling, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def _check_size(value: object, name: str) -> None:
    if type(value) is not int or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof. Requires 0 <= index < size and 32-byte hashes."""
    _check_size(index, "index")
    _check_size(size, "size")
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    _check_hash(leaf_hash, "leaf_hash")
    inner, border = _decompose(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    _check_hashes(proof, "proof")
    seed = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(seed, proof[inner:])


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ``ProofError`` unless ``proof`` shows leaf ``index`` of a ``size``-leaf tree under ``root``.

    Requires 0 <= index < size; ``leaf_hash``, ``root`` and each proof hash are 32 bytes.
    """
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        raise RootMismatchError(root, calculated)


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the ``size1`` tree is a prefix of the ``size2`` tree.

    Requires 0 < size1 <= size2 and 32-byte roots and proof hashes. When size1 == size2 the
    proof must be empty and the roots equal.
    """
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 == 0:
        raise ProofError("size1 must be > 0: consistency with the empty tree proves nothing")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    if size1 == size2:
        if proof:
            raise ProofError("size1=size2, but proof is not empty")
        if root1 != root2:
            raise RootMismatchError(root1, root2)
        return
    if not proof:
        raise ProofError("empty proof")
    _check_hashes(proof, "proof")

    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift
    # When size1 is a power of two its root is itself a node of the big tree and seeds the path.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    path = proof[start:]
    mask = (size1 - 1) >> shift

    hash1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    if hash1 != root1:
        raise RootMismatchError(root1, hash1)
    hash2 = _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])
    if hash2 != root2:
        raise RootMismatchError(root2, hash2)


class CompactRange:
    """An append-only accumulator holding the O(log n) subtree roots of a ``size``-leaf tree.

    ``hashes`` are the roots of the perfect subtrees that make up the tree, left (largest) to
    right (smallest): one per set bit of ``size``. Append leaf hashes one at a time, read the
    root at the current size, and save ``to_state()`` with a checkpoint so the next checkpoint
    continues from it without re-reading older leaves. This object is mutable; ``copy()`` it.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        """Requires ``len(hashes) == popcount(size)`` and 32-byte hashes."""
        hashes = list(hashes)
        _check_size(size, "size")
        if len(hashes) != bin(size).count("1"):
            raise ProofError(
                f"compact range of size {size} needs {bin(size).count('1')} hashes, got {len(hashes)}"
            )
        _check_hashes(hashes, "hashes")
        self._size = size
        self._hashes = hashes

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (32 bytes)."""
        if len(leaf_hash) != HASH_SIZE:
            _check_hash(leaf_hash, "leaf_hash")
        hashes = self._hashes
        hashes.append(leaf_hash)
        size = self._size
        while size & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
        self._size += 1

    def root(self) -> bytes:
        """The Merkle tree hash of the leaves appended so far (``EMPTY_ROOT`` for none)."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        result = hashes[-1]
        for left in reversed(hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        clone = CompactRange.__new__(CompactRange)
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def to_state(self) -> tuple[int, list[str]]:
        """``(size, [hex, ...])``: what a checkpoint stores to resume from."""
        return self._size, [value.hex() for value in self._hashes]

    @classmethod
    def from_state(cls, size: int, hashes: Iterable[str]) -> CompactRange:
        """Rebuild from ``to_state()``; raise ``ProofError`` if the hashes are malformed."""
        try:
            raw = [bytes.fromhex(value) for value in hashes]
        except (TypeError, ValueError) as exc:
            raise ProofError(f"compact range hash is not hex: {exc}") from None
        return cls(size, raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
