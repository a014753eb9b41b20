"""Regenerate the test vectors in tests/vectors/ deterministically.

    .venv/bin/python -m tests.vectors.generate          # rewrite the JSON files
    .venv/bin/python -m tests.vectors.generate --check  # exit 1 if a file would change

Every input is fixed (timestamps, payloads, leaf data) and signatures are deterministic ECDSA
(RFC 6979), so the output is byte-identical on every run; ``tests/unit/test_vectors.py`` checks
it. Vectors are append-only in spirit: a change that alters an existing hashing vector breaks
every chain sealed so far and needs a new hash_version instead.

``records.json`` is the exception: it holds what the product's builders seal today for fixed
inputs (``tests/vectors/real_records.py``), and is regenerated on purpose when a builder is
meant to seal something else.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

from chalicelib.domain import merkle
from chalicelib.domain.canonical import CanonicalError, canonical_bytes
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.records import GENESIS_PREV_HASH, SealedRecord, chain_key, seal
from chalicelib.domain.verification import verify_chain
from tests.vectors.helpers import (
    ATTACKER_KEY_ID,
    TEST_KEY_ID,
    VECTORS_DIR,
    attacker_signing_key,
    keys_from_json,
    make_signature_verifier,
    public_pem,
    sign,
    vector_signing_key,
)

MAX_TREE_SIZE = 17
TENANT = "acme-bakery"
SALES = "prod.sales.R1"
KEY_NOT_BEFORE = "2026-01-01T00:00:00.000000Z"


def _h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _render(value: Any, expand: int, level: int = 0) -> str:
    """JSON with objects and arrays spread over lines down to ``expand`` levels, compact below."""
    pad = " " * (level + 1)
    if level < expand and isinstance(value, dict) and value:
        inner = [f"{pad}{json.dumps(k)}: {_render(v, expand, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(inner) + "\n" + " " * level + "}"
    if level < expand and isinstance(value, list) and value:
        inner = [pad + _render(v, expand, level + 1) for v in value]
        return "[\n" + ",\n".join(inner) + "\n" + " " * level + "]"
    return _json(value)


def _dump(document: dict[str, Any], expand: int) -> str:
    return _render(document, expand) + "\n"


# -- payloads ------------------------------------------------------------------------------------


def _sale(number: int, label: str, qty: int, unit_cents: int, method: str = "card") -> dict[str, Any]:
    gross = qty * unit_cents
    net = (gross * 10000 * 2 + 10550) // (10550 * 2)  # VAT-inclusive price, 5.5 %, rounded half up
    vat = gross - net
    return {
        "receipt_id": f"R1-{number:06d}",
        "register": "R1",
        "seller": "u-alice",
        "currency": "EUR",
        "rounding": "per_document",
        "lines": [
            {
                "label": label,
                "qty": qty,
                "unit_price_cents": unit_cents,
                "vat_rate_bp": 550,
                "gross_cents": gross,
            }
        ],
        "vat": [{"rate_bp": 550, "net_cents": net, "vat_cents": vat, "gross_cents": gross}],
        "total_net_cents": net,
        "total_vat_cents": vat,
        "total_gross_cents": gross,
        "payments": [{"method": method, "amount_cents": gross}],
    }


def _timestamp(minute: int, micro: int = 0) -> str:
    return f"2026-11-23T{8 + minute // 60:02d}:{minute % 60:02d}:00.{micro:06d}Z"


# -- hashing vectors -----------------------------------------------------------------------------


def _hashing_records() -> list[tuple[str, SealedRecord]]:
    genesis = seal(
        TENANT,
        SALES,
        1,
        "sale",
        _timestamp(0, 123456),
        False,
        _sale(1, "Baguette tradition", 2, 125),
        GENESIS_PREV_HASH,
    )
    sale = seal(
        TENANT,
        SALES,
        2,
        "sale",
        _timestamp(1, 500000),
        False,
        _sale(2, "Pain au chocolat · café crème", 3, 240, "cash"),
        genesis.hash,
    )
    reversal = seal(
        TENANT,
        SALES,
        3,
        "reversal",
        _timestamp(2),
        False,
        {
            "reverses_seq": 2,
            "reverses_hash": sale.hash,
            "reason": "Erreur de saisie : client facturé deux fois",
            "receipt_id": "R1-000003",
            "register": "R1",
            "seller": "u-alice",
            "total_gross_cents": -720,
            "payments": [{"method": "cash", "amount_cents": -720}],
        },
        sale.hash,
    )
    closure = seal(
        TENANT,
        SALES,
        4,
        "closure",
        _timestamp(3),
        False,
        {
            "period": "day",
            "business_date": "2026-11-23",
            "time_zone": "Europe/Brussels",
            "cutoff": "04:00",
            "first_seq": 1,
            "last_seq": 3,
            "entries": 3,
            "period_gross_cents": 250,
            "period_vat_cents": 13,
            "grand_total_gross_cents": 98765432101,
            "vat": [{"rate_bp": 550, "net_cents": 237, "vat_cents": 13, "gross_cents": 250}],
        },
        reversal.hash,
    )
    journal = seal(
        TENANT,
        "prod.journal",
        41,
        "journal",
        _timestamp(30),
        False,
        {
            "journal": "VT",
            "entry_date": "2026-11-23",
            "label": "Ventes caisse R1 du 23/11/2026",
            "lines": [
                {"account": "530000", "debit_cents": 250, "credit_cents": 0},
                {"account": "701000", "debit_cents": 0, "credit_cents": 237},
                {"account": "445710", "debit_cents": 0, "credit_cents": 13},
            ],
        },
        _h("journal seq 40"),
    )
    event = seal(
        TENANT,
        "events",
        17,
        "event",
        _timestamp(31, 1),
        False,
        {
            "kind": "login",
            "outcome": "failure",
            "user": "u-bob",
            "ip": "192.0.2.10",
            "user_agent": "Mozilla/5.0",
            "reason": "bad password",
        },
        _h("events seq 16"),
    )
    training = seal(
        TENANT,
        "test.sales.R1",
        1,
        "sale",
        _timestamp(32),
        True,
        _sale(1, "Éclair — test", 1, 310),
        GENESIS_PREV_HASH,
    )
    return [
        ("genesis: first sale of a chain, prev_hash is 64 zeros", genesis),
        ("sale with non-ASCII labels (written as UTF-8, not escaped)", sale),
        ("reversal of seq 2 (a correction is a counter-entry)", reversal),
        ("daily closure with the perpetual grand total", closure),
        ("journal entry (double entry, balanced lines)", journal),
        ("event journal: failed login", event),
        ("training (test-mode) genesis: training is true", training),
    ]


_CANONICAL_CASES: list[tuple[str, str]] = [
    ("keys sorted by code point, no whitespace", '{"b": 1, "a": [true, false, null], "A": {}}'),
    ("nested objects are sorted too", '{"z": {"y": 1, "x": {"w": 2, "v": 3}}}'),
    ("non-ASCII written as UTF-8, not escaped", '{"label": "Crème brûlée €"}'),
    (
        "supplementary plane: U+E000 sorts before U+1F600 (code points, not UTF-16 as in RFC 8785)",
        '{"\\ud83d\\ude00": 1, "\\ue000": 2}',
    ),
    ("quote, backslash and slash", '{"s": "a\\"b\\\\c/d"}'),
    (
        "control characters: short escapes and lowercase \\u00xx",
        '{"s": "\\b\\t\\n\\f\\r\\u0000\\u001f\\u007f"}',
    ),
    ("U+2028 and U+2029 are written raw", '{"s": "\\u2028\\u2029"}'),
    ("signed 64-bit integer limits", '{"max": 9223372036854775807, "min": -9223372036854775808, "zero": 0}'),
    ("empty containers", '{"a": [], "o": {}, "s": ""}'),
]

_CANONICAL_ERRORS: list[tuple[str, str]] = [
    ("a float is refused", '{"amount": 1.5}'),
    ("a float with an integral value is refused too", '{"amount": 1.0}'),
    ("an exponent is a float", '{"amount": 1e2}'),
    ("integer above 2**63 - 1 is refused", '{"n": 9223372036854775808}'),
    ("integer below -2**63 is refused", '{"n": -9223372036854775809}'),
    ("an unpaired surrogate is not valid UTF-8", '{"s": "\\ud800"}'),
]


def build_hashing() -> str:
    records = []
    for desc, record in _hashing_records():
        body = record.canonical_bytes()
        records.append(
            {"desc": desc, "record": record.to_dict(), "canonical": body.decode("utf-8"), "hash": record.hash}
        )
    canonical = []
    for desc, source in _CANONICAL_CASES:
        body = canonical_bytes(json.loads(source))
        canonical.append(
            {"desc": desc, "value_json": source, "canonical": body.decode("utf-8"), "want_err": False}
        )
    for desc, source in _CANONICAL_ERRORS:
        try:
            canonical_bytes(json.loads(source))
        except CanonicalError:
            pass
        else:
            raise AssertionError(f"canonical error case accepted: {desc}")
        canonical.append({"desc": desc, "value_json": source, "want_err": True})
    document = {
        "desc": "Hash format v1: record hash = SHA-256(canonical bytes of the record without 'hash')",
        "records": records,
        "canonical": canonical,
    }
    return _dump(document, expand=99)


# -- Merkle vectors ------------------------------------------------------------------------------


def _leaves() -> tuple[list[bytes], list[bytes]]:
    inputs = [
        hashlib.sha256(f"scelle merkle vector leaf {index}".encode()).digest()
        for index in range(MAX_TREE_SIZE)
    ]
    return inputs, [merkle.leaf_hash(value) for value in inputs]


def _flip(value: bytes, bit: int = 0) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


def _fails(call: Callable[[], None]) -> bool:
    try:
        call()
    except merkle.ProofError:
        return True
    return False


def build_inclusion() -> str:
    inputs, hashes = _leaves()
    garbage = hashlib.sha256(b"garbage").digest()
    cases: list[dict[str, Any]] = []
    for size in range(1, MAX_TREE_SIZE + 1):
        tree = hashes[:size]
        tree_root = merkle.root(tree)
        for index in range(size):
            proof = merkle.inclusion_proof(tree, index)
            happy = {
                "leaf_hash": tree[index],
                "index": index,
                "size": size,
                "proof": proof,
                "root": tree_root,
            }
            merkle.verify_inclusion(**happy)
            variants: list[tuple[str, dict[str, Any]]] = [("happy-path", happy)]
            if proof:  # one flipped bit per case; the position rotates so every position is covered
                i = index % len(proof)
                variants.append(
                    (
                        f"modified-proof[{i}]-bit-0",
                        {**happy, "proof": [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]},
                    )
                )
            variants += [
                ("index-plus-1", {**happy, "index": index + 1}),
                ("index-minus-1", {**happy, "index": index - 1}) if index > 0 else ("", {}),
                ("size-plus-1", {**happy, "size": size + 1}),
                ("size-minus-1", {**happy, "size": size - 1}) if size > 1 else ("", {}),
                ("trailing-garbage", {**happy, "proof": [*proof, garbage]}),
                ("truncated-proof", {**happy, "proof": proof[:-1]}) if proof else ("", {}),
                ("wrong-leaf", {**happy, "leaf_hash": _flip(tree[index])}),
                ("wrong-root", {**happy, "root": _flip(tree_root)}),
            ]
            for desc, args in variants:
                if not desc:
                    continue
                want_err = desc != "happy-path"
                if _fails(lambda args=args: merkle.verify_inclusion(**args)) != want_err:
                    if desc.startswith("size-"):
                        continue  # the root, not the size, binds the tree: e.g. (0, 3) proves (0, 4) too
                    raise AssertionError(f"inclusion size {size} index {index} {desc}: unexpected outcome")
                cases.append(
                    {
                        "desc": desc,
                        "size": args["size"],
                        "index": args["index"],
                        "leaf_hash": args["leaf_hash"].hex(),
                        "proof": [p.hex() for p in args["proof"]],
                        "root": args["root"].hex(),
                        "want_err": want_err,
                    }
                )
    document = {
        "desc": "RFC 6962 inclusion proofs for every index of every tree size 1..17, plus attacks",
        "leaf_inputs": [value.hex() for value in inputs],
        "leaf_hashes": [value.hex() for value in hashes],
        "roots": [merkle.root(hashes[:size]).hex() for size in range(MAX_TREE_SIZE + 1)],
        "cases": cases,
    }
    return _dump(document, expand=2)


def build_consistency() -> str:
    _, hashes = _leaves()
    garbage = hashlib.sha256(b"garbage").digest()
    cases: list[dict[str, Any]] = []
    for size2 in range(1, MAX_TREE_SIZE + 1):
        root2 = merkle.root(hashes[:size2])
        for size1 in range(1, size2 + 1):
            root1 = merkle.root(hashes[:size1])
            proof = merkle.consistency_proof(hashes[:size2], size1)
            happy = {"size1": size1, "size2": size2, "root1": root1, "root2": root2, "proof": proof}
            variants: list[tuple[str, dict[str, Any]]] = [("happy-path", happy)]
            if proof:
                i = size1 % len(proof)
                variants.append(
                    (
                        f"modified-proof[{i}]-bit-0",
                        {**happy, "proof": [*proof[:i], _flip(proof[i]), *proof[i + 1 :]]},
                    )
                )
            variants += [
                ("swapped-roots", {**happy, "root1": root2, "root2": root1}) if root1 != root2 else ("", {}),
                ("size1-plus-1", {**happy, "size1": size1 + 1}),
                ("size1-minus-1", {**happy, "size1": size1 - 1}) if size1 > 1 else ("", {}),
                ("size2-plus-1", {**happy, "size2": size2 + 1}),
                ("size2-minus-1", {**happy, "size2": size2 - 1}) if size2 > size1 else ("", {}),
                ("trailing-garbage", {**happy, "proof": [*proof, garbage]}),
                ("truncated-proof", {**happy, "proof": proof[:-1]}) if proof else ("", {}),
                ("empty-proof", {**happy, "proof": []}) if proof else ("", {}),
                ("wrong-root1", {**happy, "root1": _flip(root1)}),
                ("wrong-root2", {**happy, "root2": _flip(root2)}),
            ]
            for desc, args in variants:
                if not desc:
                    continue
                want_err = desc != "happy-path"
                if _fails(lambda args=args: merkle.verify_consistency(**args)) != want_err:
                    if desc.startswith("size"):
                        continue  # a size change that still verifies is no attack: the roots bind the trees
                    raise AssertionError(f"consistency {size1}->{size2} {desc}: unexpected outcome")
                cases.append(
                    {
                        "desc": desc,
                        "size1": args["size1"],
                        "size2": args["size2"],
                        "root1": args["root1"].hex(),
                        "root2": args["root2"].hex(),
                        "proof": [p.hex() for p in args["proof"]],
                        "want_err": want_err,
                    }
                )
    document = {
        "desc": "RFC 6962 consistency proofs for every 0 < size1 <= size2 <= 17, plus attacks",
        "leaf_hashes": [value.hex() for value in hashes],
        "cases": cases,
    }
    return _dump(document, expand=2)


# -- chain and checkpoint vectors ----------------------------------------------------------------

CHAIN_LENGTH = 12
CHECKPOINT_SIZES = (4, 8, 12)


def _base_chain() -> list[dict[str, Any]]:
    labels = ["Baguette", "Croissant", "Pain aux raisins", "Tarte aux pommes", "Éclair café", "Chouquettes"]
    records: list[SealedRecord] = []
    prev = GENESIS_PREV_HASH
    for seq in range(1, CHAIN_LENGTH + 1):
        if seq == 7:
            data = {
                "reverses_seq": 3,
                "reason": "mauvais article",
                "receipt_id": "R1-000007",
                "register": "R1",
                "seller": "u-alice",
                "total_gross_cents": -records[2].data["total_gross_cents"],
            }
            kind = "reversal"
        else:
            data = _sale(
                seq, labels[seq % len(labels)], 1 + seq % 3, 95 + 10 * seq, "card" if seq % 2 else "cash"
            )
            kind = "sale"
        record = seal(TENANT, SALES, seq, kind, _timestamp(seq, seq * 1000), False, data, prev)
        records.append(record)
        prev = record.hash
    return [record.to_dict() for record in records]


def _rehash_from(items: list[dict[str, Any]], start_index: int) -> list[dict[str, Any]]:
    """Recompute hash (and links) of items[start_index:], as an attacker with write access would."""
    items = copy.deepcopy(items)
    for index in range(start_index, len(items)):
        item = items[index]
        if index > 0:
            item["prev_hash"] = items[index - 1]["hash"]
        fields = {name: value for name, value in item.items() if name != "hash"}
        item["hash"] = hashlib.sha256(canonical_bytes(fields)).hexdigest()
    return items


def _root_of(items: list[dict[str, Any]], size: int) -> str:
    return merkle.root([merkle.record_leaf_hash(item["hash"]) for item in items[:size]]).hex()


def _checkpoint(
    items: list[dict[str, Any]], size: int, key: Any, key_id: str, timestamp: str | None = None
) -> str:
    unsigned = Checkpoint(
        chain_key(TENANT, SALES), size, _root_of(items, size), timestamp or _timestamp(size, 999999), key_id
    )
    return unsigned.with_signature(sign(key, unsigned.signed_message())).to_text()


def build_chain_tamper() -> str:
    key = vector_signing_key()
    attacker = attacker_signing_key()
    published = [
        {
            "key_id": TEST_KEY_ID,
            "not_before": KEY_NOT_BEFORE,
            "not_after": None,
            "public_key_pem": public_pem(key),
        }
    ]
    base = _base_chain()
    signed = [_checkpoint(base, size, key, TEST_KEY_ID) for size in CHECKPOINT_SIZES]

    def modified(seq: int, rehash: str = "none") -> list[dict[str, Any]]:
        items = copy.deepcopy(base)
        items[seq - 1]["data"]["total_gross_cents"] += 100
        if rehash == "one":
            items = _rehash_from(items, seq - 1)
            items[seq:] = copy.deepcopy(base[seq:])
        elif rehash == "all":
            items = _rehash_from(items, seq - 1)
        return items

    cases: list[dict[str, Any]] = []

    def case(
        desc: str,
        items: list[dict[str, Any]],
        reason: str,
        first_bad_seq: int | None,
        checkpoints: list[str] | None = None,
        keys: list[dict[str, Any]] | None = None,
    ) -> None:
        cases.append(
            {
                "desc": desc,
                "tenant_id": TENANT,
                "chain": SALES,
                "records": items,
                "checkpoints": signed if checkpoints is None else checkpoints,
                "keys": published if keys is None else keys,
                "want": {"ok": reason == "ok", "reason": reason, "first_bad_seq": first_bad_seq},
            }
        )

    case("untouched chain with three signed checkpoints verifies", base, "ok", None)
    case("modify a hashed field (an amount) of seq 5", modified(5), "hash_mismatch", 5)

    items = copy.deepcopy(base)
    items[4]["hash"] = _h("forged")
    case("modify the stored hash of seq 5", items, "hash_mismatch", 5)

    case(
        "modify seq 5 and recompute its hash only: the link from seq 6 breaks",
        modified(5, "one"),
        "broken_link",
        6,
    )
    case(
        "modify seq 6 and rehash every later entry: caught by the signed checkpoint at size 8",
        modified(6, "all"),
        "checkpoint_mismatch",
        8,
    )
    case(
        "modify seq 6 and rehash every later entry, with no signed checkpoint: NOT detectable "
        "(this is why checkpoints are signed and published)",
        modified(6, "all"),
        "ok",
        None,
        checkpoints=[],
    )
    case("delete seq 5 from the middle", base[:4] + base[5:], "gap", 5)
    case("delete the tail (seq 11 and 12) after a signed checkpoint covered it", base[:10], "truncated", 11)
    case(
        "delete the last entry when no signed checkpoint covers it yet: NOT detectable until the next "
        "checkpoint",
        base[:11],
        "ok",
        None,
        checkpoints=signed[:2],
    )

    forged = copy.deepcopy(base[4])
    forged["data"]["total_gross_cents"] = 1
    forged = _rehash_from([base[3], forged], 1)[1]
    case(
        "insert a forged seq 5 (linked to seq 4) next to the real one",
        [*base[:4], forged, *base[4:]],
        "duplicate",
        5,
    )

    renumbered = copy.deepcopy(base[4:])
    for item in renumbered:
        item["seq"] += 1
    case(
        "insert a forged seq 5 and renumber the later entries without rehashing",
        [*base[:4], forged, *renumbered],
        "hash_mismatch",
        6,
    )

    swapped = [*base[:3], base[5], base[4], base[3], *base[6:]]
    case("swap the positions of seq 4 and seq 6", swapped, "out_of_order", 4)

    items = copy.deepcopy(base)
    items[3]["data"], items[5]["data"] = items[5]["data"], items[3]["data"]
    case("swap the payloads of seq 4 and seq 6", items, "hash_mismatch", 4)

    rewritten = modified(6, "all")
    resigned = [signed[0]] + [_checkpoint(rewritten, size, attacker, ATTACKER_KEY_ID) for size in (8, 12)]
    case(
        "rewrite from seq 6, rehash, and re-sign the checkpoints with an unpublished key",
        rewritten,
        "key_not_valid",
        8,
        checkpoints=resigned,
    )
    forged_signatures = [signed[0]] + [
        _checkpoint(rewritten, size, attacker, TEST_KEY_ID) for size in (8, 12)
    ]
    case(
        "rewrite from seq 6, rehash, and sign with another key under the published key id",
        rewritten,
        "bad_signature",
        8,
        checkpoints=forged_signatures,
    )

    retired = [
        {
            **published[0],
            "not_before": "2025-01-01T00:00:00.000000Z",
            "not_after": "2026-06-01T00:00:00.000000Z",
        }
    ]
    case(
        "checkpoint dated after the key's not_after (a retired key cannot sign new checkpoints)",
        base,
        "key_not_valid",
        4,
        keys=retired,
    )

    other_history = _rehash_from(modified(7), 6)
    equivocation = [*signed, _checkpoint(other_history, 8, key, TEST_KEY_ID, _timestamp(9))]
    case(
        "two validly signed checkpoints at size 8 with different roots (a fork)",
        base,
        "checkpoint_inconsistent",
        8,
        checkpoints=equivocation,
    )

    restored = copy.deepcopy(base[:8])
    for seq in (9, 10):
        restored.append(
            seal(
                TENANT,
                SALES,
                seq,
                "sale",
                _timestamp(60 + seq),
                False,
                _sale(seq, "Après restauration", 1, 200),
                restored[-1]["hash"],
            ).to_dict()
        )
    after_restore = [*signed, _checkpoint(restored, 10, key, TEST_KEY_ID, _timestamp(71))]
    case(
        "restore an old backup (size 8) then keep writing: the older checkpoint at size 12 no longer fits",
        restored,
        "truncated",
        11,
        checkpoints=after_restore,
    )

    items = copy.deepcopy(base)
    items[2]["tenant_id"] = "other-tenant"
    case(
        "an entry of another tenant slipped into the chain (rehashed)",
        _rehash_from(items, 2),
        "wrong_chain",
        3,
        checkpoints=[],
    )

    items = copy.deepcopy(base)
    items[6]["hash_version"] = 2
    case("an entry claims an unknown hash_version", items, "bad_version", 7)

    items = copy.deepcopy(base)
    items[0]["prev_hash"] = _h("something before genesis")
    case(
        "the genesis entry's prev_hash is not 64 zeros (rehashed, no checkpoint)",
        _rehash_from(items, 0),
        "bad_genesis",
        1,
        checkpoints=[],
    )

    items = copy.deepcopy(base)
    items[8]["data"]["total_gross_cents"] = 12.5
    case("an amount stored as a float (1 decimal place) is not canonical", items, "non_canonical", 9)

    items = copy.deepcopy(base)
    items[9]["note"] = "changed by support"
    case("an unsealed attribute added to a stored entry", items, "non_canonical", 10)

    for entry in cases:
        report = verify_chain(
            entry["records"],
            tenant_id=entry["tenant_id"],
            chain=entry["chain"],
            checkpoints=[Checkpoint.from_text(text) for text in entry["checkpoints"]],
            keys=keys_from_json(entry["keys"]),
            signature_verifier=make_signature_verifier(keys_from_json(entry["keys"])),
        )
        got = {"ok": report.ok, "reason": report.reason, "first_bad_seq": report.first_bad_seq}
        if got != entry["want"]:
            raise AssertionError(f"{entry['desc']}: want {entry['want']}, got {got}: {report.detail}")

    document = {
        "desc": "A 12-entry chain with signed checkpoints at sizes 4, 8 and 12, and tampered copies of it. "
        "'want' is the verifier's reason and first_bad_seq.",
        "cases": cases,
    }
    return _dump(document, expand=4)


def build_checkpoints() -> str:
    key = vector_signing_key()
    base = _base_chain()
    text = _checkpoint(base, 8, key, TEST_KEY_ID)
    checkpoint = Checkpoint.from_text(text)
    body, signature_line = text[: -len(text.split("\n")[-2]) - 1], text.split("\n")[-2]
    malformed = [
        ("empty text", "", "empty"),
        ("CRLF line endings", text.replace("\n", "\r\n"), "carriage return"),
        ("no final newline", text[:-1], "does not end with a newline"),
        (
            "unknown header",
            text.replace("scelle-checkpoint/v1", "scelle-checkpoint/v2"),
            "unknown checkpoint header",
        ),
        ("body too short", "scelle-checkpoint/v1\nTENANT#a#CHAIN#b\n", "body alone needs 6"),
        ("chain key without CHAIN part", text.replace(f"#CHAIN#{SALES}", ""), "line 2"),
        ("size with a leading zero", text.replace("\n8\n", "\n08\n"), "leading zeros"),
        ("negative size", text.replace("\n8\n", "\n-8\n"), "line 3"),
        ("uppercase root", text.replace(checkpoint.root, checkpoint.root.upper()), "line 4"),
        (
            "timestamp with an offset instead of Z",
            text.replace(checkpoint.timestamp, checkpoint.timestamp[:-1] + "+00:00"),
            "line 5",
        ),
        ("key id with a space", text.replace(f"\n{TEST_KEY_ID}\n", "\nscelle test\n"), "line 6"),
        ("no blank line before the signature", body[:-1] + signature_line + "\n", "line 7"),
        ("missing signature", body + "\n", "missing signature"),
        ("signature not base64", body + "not base64!\n", "not base64"),
        ("signature with a character missing", body + signature_line[:-1] + "\n", "not base64"),
        ("text after the signature", text + "extra\n", "unexpected text"),
    ]
    document = {
        "desc": "Checkpoint text: a valid signed checkpoint of the tamper-vector chain at size 8, and "
        "malformed texts, each with a fragment of its error message",
        "key_id": TEST_KEY_ID,
        "public_key_pem": public_pem(key),
        "valid": [
            {
                "desc": "checkpoint at size 8",
                "text": text,
                "signed_message": checkpoint.signed_message().decode("utf-8"),
                "chain_key": checkpoint.chain_key,
                "size": checkpoint.size,
                "root": checkpoint.root,
                "timestamp": checkpoint.timestamp,
                "signature_der_hex": checkpoint.signature.hex(),
            }
        ],
        "malformed": [
            {"desc": desc, "text": bad, "want_err": True, "error": fragment}
            for desc, bad, fragment in malformed
        ],
    }
    return _dump(document, expand=3)


def _render_fitting(value: Any, width: int = 110, level: int = 0, room: int = 0) -> str:
    """JSON with every object or array on one line when it fits in ``width`` columns, spread over
    lines (one member per line) when it does not."""
    compact = _json(value)
    if not isinstance(value, dict | list) or not value or level + room + len(compact) <= width:
        return compact
    pad = " " * (level + 1)
    if isinstance(value, dict):
        inner = [f"{pad}{json.dumps(k, ensure_ascii=False)}: "
                 f"{_render_fitting(v, width, level + 1, len(json.dumps(k, ensure_ascii=False)) + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(inner) + "\n" + " " * level + "}"
    inner = [pad + _render_fitting(v, width, level + 1) for v in value]
    return "[\n" + ",\n".join(inner) + "\n" + " " * level + "]"


def build_records() -> str:
    """Sealed records made by the product's real builders (``tests/vectors/real_records.py``)."""
    from tests.vectors.real_records import build_document

    return _render_fitting(build_document()) + "\n"


BUILDERS: dict[str, Callable[[], str]] = {
    "hashing.json": build_hashing,
    "merkle-inclusion.json": build_inclusion,
    "merkle-consistency.json": build_consistency,
    "chain-tamper.json": build_chain_tamper,
    "checkpoints.json": build_checkpoints,
    "records.json": build_records,
}


def build_all() -> dict[str, str]:
    """Every vector file's expected content, by file name."""
    return {name: builder() for name, builder in BUILDERS.items()}


def main(argv: list[str]) -> int:
    check_only = "--check" in argv
    changed = []
    for name, content in build_all().items():
        path = VECTORS_DIR / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            changed.append(name)
            if not check_only:
                path.write_text(content, encoding="utf-8")
    verb = "would change" if check_only else "rewritten"
    print(f"{verb}: {', '.join(changed)}" if changed else "vectors up to date")
    return 1 if check_only and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
