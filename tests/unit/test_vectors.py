"""The committed vectors in tests/vectors/ still verify, and regenerate byte for byte.

If one of these fails after a code change, the change altered hash format v1: every chain
sealed so far would stop verifying. Fix the code; never regenerate the vectors to make it pass.

``records.json`` is different: it holds records made by the product's real builders (sales,
journal entries, reversals, closures, events). When it no longer regenerates, a builder now
seals different bytes for the same input: if that is intended (a new payload field, a fixed
bug), regenerate it on purpose (``python -m tests.vectors.generate``) and say so in the change.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.domain import merkle
from chalicelib.domain.canonical import CanonicalError, canonical_bytes, encode_stdlib
from chalicelib.domain.checkpoint import Checkpoint, CheckpointError
from chalicelib.domain.records import HASHED_FIELDS, SealedRecord
from chalicelib.domain.verification import verify_chain
from tests.vectors import generate
from tests.vectors.helpers import VECTORS_DIR, keys_from_json, load_vectors, make_signature_verifier

HASHING = load_vectors("hashing.json")
INCLUSION = load_vectors("merkle-inclusion.json")
CONSISTENCY = load_vectors("merkle-consistency.json")
TAMPER = load_vectors("chain-tamper.json")
CHECKPOINTS = load_vectors("checkpoints.json")
RECORDS = load_vectors("records.json")
HASH_FORMAT_DOC = VECTORS_DIR.parent.parent / "docs" / "hash-format.md"


@pytest.mark.parametrize("name", sorted(set(generate.BUILDERS) - {"records.json"}))
def test_the_committed_vector_file_regenerates_byte_for_byte(name):
    assert generate.BUILDERS[name]() == (VECTORS_DIR / name).read_text(encoding="utf-8"), (
        f"tests/vectors/{name} differs from what generate.py produces"
    )


# -- hashing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", HASHING["records"], ids=lambda vector: vector["desc"])
def test_each_record_vector_has_the_recorded_canonical_bytes_and_hash(vector):
    record = vector["record"]
    hashed = {name: record[name] for name in HASHED_FIELDS}

    assert set(record) == {*HASHED_FIELDS, "hash"}
    assert canonical_bytes(hashed) == vector["canonical"].encode("utf-8")
    assert encode_stdlib(hashed) == vector["canonical"].encode("utf-8")
    assert hashlib.sha256(vector["canonical"].encode("utf-8")).hexdigest() == vector["hash"] == record["hash"]
    assert SealedRecord.from_item(record).intact


@pytest.mark.parametrize("vector", HASHING["canonical"], ids=lambda vector: vector["desc"])
def test_each_canonical_vector_gives_its_bytes_or_is_refused(vector):
    value = json.loads(vector["value_json"])
    if vector["want_err"]:
        with pytest.raises(CanonicalError):
            canonical_bytes(value)
    else:
        assert canonical_bytes(value) == vector["canonical"].encode("utf-8")


# -- Merkle ----------------------------------------------------------------------------------------


def test_the_listed_roots_are_the_roots_of_the_listed_leaves():
    leaf_hashes = [bytes.fromhex(value) for value in INCLUSION["leaf_hashes"]]

    assert [merkle.leaf_hash(bytes.fromhex(value)) for value in INCLUSION["leaf_inputs"]] == leaf_hashes
    assert [merkle.root(leaf_hashes[:size]).hex() for size in range(len(leaf_hashes) + 1)] == INCLUSION[
        "roots"
    ]


def test_inclusion_vectors_cover_every_index_of_every_size_1_to_17_and_each_attack():
    happy = {(case["size"], case["index"]) for case in INCLUSION["cases"] if case["desc"] == "happy-path"}
    attacks = {case["desc"].split("[")[0] for case in INCLUSION["cases"] if case["want_err"]}

    assert happy == {(size, index) for size in range(1, 18) for index in range(size)}
    assert {"modified-proof", "index-plus-1", "trailing-garbage", "truncated-proof", "wrong-root"} <= attacks


def test_consistency_vectors_cover_every_pair_of_sizes_1_to_17_and_each_attack():
    happy = {(case["size1"], case["size2"]) for case in CONSISTENCY["cases"] if case["desc"] == "happy-path"}
    attacks = {case["desc"].split("[")[0] for case in CONSISTENCY["cases"] if case["want_err"]}

    assert happy == {(size1, size2) for size2 in range(1, 18) for size1 in range(1, size2 + 1)}
    assert {
        "modified-proof",
        "swapped-roots",
        "trailing-garbage",
        "truncated-proof",
        "empty-proof",
    } <= attacks


def _outcome(call) -> bool:
    try:
        call()
    except merkle.ProofError:
        return True
    return False


def test_every_inclusion_vector_verifies_or_fails_as_recorded():
    wrong = []
    for case in INCLUSION["cases"]:
        failed = _outcome(
            lambda case=case: merkle.verify_inclusion(
                bytes.fromhex(case["leaf_hash"]),
                case["index"],
                case["size"],
                [bytes.fromhex(value) for value in case["proof"]],
                bytes.fromhex(case["root"]),
            )
        )
        if failed != case["want_err"]:
            wrong.append((case["size"], case["index"], case["desc"]))

    assert wrong == []


def test_every_consistency_vector_verifies_or_fails_as_recorded():
    wrong = []
    for case in CONSISTENCY["cases"]:
        failed = _outcome(
            lambda case=case: merkle.verify_consistency(
                case["size1"],
                case["size2"],
                bytes.fromhex(case["root1"]),
                bytes.fromhex(case["root2"]),
                [bytes.fromhex(value) for value in case["proof"]],
            )
        )
        if failed != case["want_err"]:
            wrong.append((case["size1"], case["size2"], case["desc"]))

    assert wrong == []


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _rfc9162_inclusion_ok(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, as written in docs/hash-format.md (independent of merkle.py)."""
    if index >= size or any(len(value) != 32 for value in [leaf, root, *proof]):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def _rfc9162_consistency_ok(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2, as written in docs/hash-format.md, with 0 < size1 <= size2."""
    if not 0 < size1 <= size2 or any(len(value) != 32 for value in [root1, root2, *proof]):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof:
        return False
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


def test_the_rfc_9162_algorithms_of_the_spec_agree_with_every_merkle_vector():
    wrong = []
    for case in INCLUSION["cases"]:
        proof = [bytes.fromhex(value) for value in case["proof"]]
        ok = _rfc9162_inclusion_ok(
            bytes.fromhex(case["leaf_hash"]), case["index"], case["size"], proof, bytes.fromhex(case["root"])
        )
        if ok == case["want_err"]:
            wrong.append(("inclusion", case["size"], case["index"], case["desc"]))
    for case in CONSISTENCY["cases"]:
        proof = [bytes.fromhex(value) for value in case["proof"]]
        ok = _rfc9162_consistency_ok(
            case["size1"], case["size2"], bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"]), proof
        )
        if ok == case["want_err"]:
            wrong.append(("consistency", case["size1"], case["size2"], case["desc"]))

    assert wrong == []


def test_the_proofs_generated_today_are_the_recorded_happy_paths():
    leaf_hashes = [bytes.fromhex(value) for value in INCLUSION["leaf_hashes"]]
    for case in INCLUSION["cases"]:
        if case["desc"] == "happy-path":
            proof = merkle.inclusion_proof(leaf_hashes[: case["size"]], case["index"])
            assert [value.hex() for value in proof] == case["proof"]
    for case in CONSISTENCY["cases"]:
        if case["desc"] == "happy-path":
            proof = merkle.consistency_proof(leaf_hashes[: case["size2"]], case["size1"])
            assert [value.hex() for value in proof] == case["proof"]


# -- chains ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", TAMPER["cases"], ids=lambda case: case["desc"][:70])
def test_each_chain_tamper_vector_gives_its_reason_and_first_bad_seq(case):
    # GIVEN the stored items, the checkpoint texts and the published keys of the vector
    keys = keys_from_json(case["keys"])

    # WHEN the chain is verified
    report = verify_chain(
        case["records"],
        tenant_id=case["tenant_id"],
        chain=case["chain"],
        checkpoints=[Checkpoint.from_text(text) for text in case["checkpoints"]],
        keys=keys,
        signature_verifier=make_signature_verifier(keys),
    )

    # THEN the verdict is exactly the recorded one
    assert report.ok == case["want"]["ok"], report.detail
    assert report.reason == case["want"]["reason"], report.detail
    assert report.first_bad_seq == case["want"]["first_bad_seq"], report.detail


def test_the_tamper_vectors_cover_every_attack_named_in_the_design():
    reasons = {case["want"]["reason"] for case in TAMPER["cases"]}

    assert {
        "hash_mismatch",
        "broken_link",
        "gap",
        "duplicate",
        "out_of_order",
        "wrong_chain",
        "bad_version",
        "bad_genesis",
        "non_canonical",
        "checkpoint_mismatch",
        "truncated",
        "bad_signature",
        "key_not_valid",
        "checkpoint_inconsistent",
        "ok",
    } == reasons


# -- checkpoints -----------------------------------------------------------------------------------


def test_the_valid_checkpoint_vector_parses_round_trips_and_its_signature_verifies():
    vector = CHECKPOINTS["valid"][0]
    public_key = serialization.load_pem_public_key(CHECKPOINTS["public_key_pem"].encode())
    assert isinstance(public_key, ec.EllipticCurvePublicKey)

    checkpoint = Checkpoint.from_text(vector["text"])

    assert checkpoint.to_text() == vector["text"]
    assert checkpoint.signed_message().decode() == vector["signed_message"]
    assert (checkpoint.chain_key, checkpoint.size, checkpoint.root, checkpoint.timestamp) == (
        vector["chain_key"],
        vector["size"],
        vector["root"],
        vector["timestamp"],
    )
    assert checkpoint.signature.hex() == vector["signature_der_hex"]
    public_key.verify(checkpoint.signature, vector["signed_message"].encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("vector", CHECKPOINTS["malformed"], ids=lambda vector: vector["desc"])
def test_each_malformed_checkpoint_vector_is_refused_with_its_message(vector):
    with pytest.raises(CheckpointError, match=vector["error"]):
        Checkpoint.from_text(vector["text"])


def test_the_vector_signing_key_is_documented_as_test_only():
    note = (VECTORS_DIR / "test-signing-key.README.txt").read_text(encoding="utf-8")

    assert note.startswith("TEST-ONLY KEY")
    assert (VECTORS_DIR / "test-signing-key.pub.pem").read_text() == CHECKPOINTS["public_key_pem"]


def test_the_worked_examples_in_docs_hash_format_match_the_vectors():
    spec = HASH_FORMAT_DOC.read_text(encoding="utf-8")
    genesis = _worked_example()
    second = _record_vector(genesis["record"]["tenant_id"], genesis["record"]["chain"], 2)

    step = next(s["step"] for s in RECORDS["steps"] if genesis in s["records"])

    assert genesis["canonical"] in spec and f"`tests/vectors/records.json` (step {step}:" in spec
    assert f"one line, {len(genesis['canonical'].encode())} bytes" in spec
    assert genesis["hash"] in spec and second["hash"] in spec
    assert CHECKPOINTS["valid"][0]["text"] in spec


# -- records made by the real builders (records.json) ----------------------------------------------

RECORD_VECTORS = [vector for step in RECORDS["steps"] for vector in step["records"]]
LEDGER_TYPES = ("sale", "journal", "reversal")


def _record_vector(tenant_id: str, chain: str, seq: int) -> dict:
    return next(v for v in RECORD_VECTORS
                if (v["record"]["tenant_id"], v["record"]["chain"], v["record"]["seq"]) == (tenant_id, chain, seq))


def _worked_example() -> dict:
    """The record docs/hash-format.md works through: the French tenant's first production sale."""
    tenant = next(t["tenant_id"] for t in RECORDS["tenants"] if t["country"] == "FR")
    return _record_vector(tenant, "prod.sales.R1", 1)


def _chains() -> dict[tuple[str, str], list[dict]]:
    chains: dict[tuple[str, str], list[dict]] = {}
    for vector in RECORD_VECTORS:
        record = vector["record"]
        chains.setdefault((record["tenant_id"], record["chain"]), []).append(record)
    return chains


def _strict_json(text: str):
    """json.loads refusing duplicate keys and any number with a fraction or an exponent."""
    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate key in {keys}"
        return dict(pairs)

    def no_float(number):
        raise AssertionError(f"a float in canonical bytes: {number}")

    return json.loads(text, object_pairs_hook=no_duplicates, parse_float=no_float)


def _rfc6962_root(hashes_hex: list[str]) -> str:
    """The Merkle root of docs/hash-format.md section 3, written again (independent of merkle.py)."""
    def root(leaves: list[bytes]) -> bytes:
        if not leaves:
            return hashlib.sha256(b"").digest()
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return _node(root(leaves[:k]), root(leaves[k:]))

    return root([bytes.fromhex(value) for value in hashes_hex]).hex()


def test_the_record_vectors_are_what_the_real_builders_seal_today():
    """(a) The builders, given the recorded inputs, seal exactly these bytes."""
    assert generate.BUILDERS["records.json"]() == (VECTORS_DIR / "records.json").read_text(encoding="utf-8"), (
        "tests/vectors/records.json differs from what the builders seal today for the same inputs: a builder "
        "(sales, journal, reversals, closures, events, accounts...) now seals different bytes. If intended, "
        "regenerate it on purpose with `python -m tests.vectors.generate` and say so in the change."
    )


@pytest.mark.parametrize("vector", RECORD_VECTORS,
                         ids=lambda v: f"{v['record']['tenant_id'][-2:]}-{v['record']['chain']}-{v['record']['seq']}")
def test_each_record_vector_recomputes_from_its_json_alone(vector):
    """(b) Canonical bytes and hash recomputed from the record's JSON with the standard library only."""
    record = vector["record"]
    hashed = {name: value for name, value in record.items() if name != "hash"}

    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    assert list(record) == [*HASHED_FIELDS, "hash"]
    assert canonical == vector["canonical"].encode("utf-8")
    assert _strict_json(vector["canonical"]) == hashed
    assert hashlib.sha256(canonical).hexdigest() == vector["hash"] == record["hash"]


def test_the_record_vectors_form_whole_chains_whose_roots_are_listed():
    chains = _chains()

    assert {(c["tenant_id"], c["chain"]) for c in RECORDS["chains"]} == set(chains)
    for summary in RECORDS["chains"]:
        records = chains[(summary["tenant_id"], summary["chain"])]
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert [r["prev_hash"] for r in records] == ["0" * 64] + [r["hash"] for r in records[:-1]]
        assert summary["size"] == len(records) and summary["head_hash"] == records[-1]["hash"]
        assert summary["merkle_root"] == _rfc6962_root([r["hash"] for r in records])
        stamps = [r["recorded_at"] for r in records]
        assert stamps == sorted(stamps), "recorded_at goes backwards along a chain"


def _covered_totals(records: list[dict], data: dict) -> dict:
    """A closure's totals added up again from the records it covers (docs/entry-types.md, section 6)."""
    counts = dict.fromkeys(("sale", "return", "journal", "reversal"), 0)
    vat: dict[int, list[int]] = {}
    grand = debit = credit = 0
    for record in records[data["first_seq"] - 1: data["last_seq"]]:
        if record["type"] not in LEDGER_TYPES:
            continue
        assert data["period_start"] <= record["recorded_at"] < data["period_end"]
        payload = record["data"]
        if record["type"] == "reversal":
            counts["reversal"] += 1
            original_type, payload = payload["original"]["type"], payload["negated"]
        else:
            counts[payload["kind"] if record["type"] == "sale" else "journal"] += 1
            original_type = record["type"]
        if original_type == "sale":
            grand += payload["totals"]["incl"]
            for part in payload["vat_totals"]:
                sums = vat.setdefault(part["rate"], [0, 0, 0])
                for index, name in enumerate(("excl", "vat", "incl")):
                    sums[index] += part[name]
        else:
            debit += payload["total_debit"]
            credit += payload["total_credit"]
    later = [r for r in records[data["last_seq"]:] if r["type"] in LEDGER_TYPES]
    assert all(r["recorded_at"] >= data["period_end"] for r in later)
    return {"entry_count": sum(counts.values()), "counts": counts,
            "vat_totals": [{"rate": rate, "excl": s[0], "vat": s[1], "incl": s[2]}
                           for rate, s in sorted(vat.items(), reverse=True)],
            "period_grand_total": grand, "journal_totals": {"debit": debit, "credit": credit}}


def test_each_closure_vector_has_the_merkle_root_and_totals_of_the_records_it_covers():
    chains = _chains()
    closures = [v for v in RECORD_VECTORS if v["record"]["type"] == "closure"]
    previous: dict[tuple[str, str, str], dict] = {}
    for vector in closures:
        record, data = vector["record"], vector["record"]["data"]
        records = chains[(record["tenant_id"], record["chain"])]
        before = records[: record["seq"] - 1]
        root = _rfc6962_root([r["hash"] for r in before])
        last = previous.get((record["tenant_id"], record["chain"], data["kind"]))
        start = datetime.fromisoformat(data["period_start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(data["period_end"].replace("Z", "+00:00"))

        assert data["merkle_tree_size"] == vector["closure"]["merkle_tree_size"] == record["seq"] - 1
        assert data["merkle_root"] == vector["closure"]["merkle_root"] == root
        assert vector["closure"]["period_hours"] * 3600 == (end - start).total_seconds()
        assert data["first_seq"] == (last["last_seq"] + 1 if last else 1)
        assert {name: data[name] for name in _covered_totals(records, data)} == _covered_totals(records, data)
        assert data["perpetual_grand_total"] == (last["perpetual_grand_total"] if last else 0) + data[
            "period_grand_total"]
        for name in ("entry_count", "period_grand_total", "perpetual_grand_total", "vat_totals", "journal_totals"):
            assert vector["closure"][name] == data[name]
        previous[(record["tenant_id"], record["chain"], data["kind"])] = data


def test_the_record_vectors_cover_every_record_type_and_option():
    records = [v["record"] for v in RECORD_VECTORS]
    sales = [r["data"] for r in records if r["type"] == "sale"]
    journals = [r["data"] for r in records if r["type"] == "journal"]
    reversals = [r["data"] for r in records if r["type"] == "reversal"]
    closures = [(r["data"], v["closure"]) for v, r in zip(RECORD_VECTORS, records, strict=True)
                if r["type"] == "closure"]

    assert {s["kind"] for s in sales} == {"sale", "return"}
    assert {s["country"] for s in sales} == {"FR", "BE"}
    assert {s["prices_include_vat"] for s in sales} == {True, False}
    assert {s["rounding_policy"] for s in sales} == {"document", "line"}
    assert any(line["discount"] > 0 for s in sales for line in s["lines"])
    assert any(line["quantity"] % 1000 for s in sales for line in s["lines"])  # a weighed quantity
    assert any(len(s["payments"]) > 1 and s["change"] > 0 for s in sales)  # several payments, change given
    assert any(p["reference"] for s in sales for p in s["payments"])
    assert any(s["totals"]["incl"] == 0 and not s["payments"] for s in sales)
    assert any(s["kind"] == "return" and any(line["quantity"] > 0 for line in s["lines"]) for s in sales)
    assert {p["method"] for s in sales for p in s["payments"]} >= {"cash", "card", "cheque", "voucher", "transfer"}
    assert any(r["training"] for r in records if r["type"] == "sale")
    assert any(line["aux_account"] for j in journals for line in j["lines"])
    assert {(r["original"]["type"], r["negated"].get("kind")) for r in reversals} == {
        ("sale", "sale"), ("sale", "return"), ("journal", None)}
    hours = {(d["time_zone"], d["kind"], c["period_hours"]) for d, c in closures}
    for zone in ("Europe/Paris", "Europe/Brussels"):
        assert {(zone, "day", 24), (zone, "day", 23), (zone, "day", 25), (zone, "month", 743),
                (zone, "month", 745), (zone, "year", 8760)} <= hours


def test_the_record_vectors_hold_every_event_kind_the_code_writes():
    from chalicelib.domain.event_kinds import KINDS

    written = {v["record"]["data"]["kind"] for v in RECORD_VECTORS if v["record"]["type"] == "event"}
    unwritten = set(RECORDS["event_kinds_not_written"])

    assert written == set(RECORDS["event_kinds_written"])
    assert written | unwritten == KINDS and not written & unwritten
    # a kind said to be written nowhere is named nowhere but in the list of kinds (and the
    # derived events' fallback): when code starts writing it, it needs its vector
    source = VECTORS_DIR.parent.parent / "chalicelib"
    for path in source.rglob("*.py"):
        if path.name == "event_kinds.py":
            continue
        text = path.read_text(encoding="utf-8")
        for kind in unwritten - {"entry_recorded"}:
            assert f'"{kind}"' not in text, f"{path} names the event kind {kind}: add it to the record vectors"


def _event_rows() -> dict[str, str]:
    """The rows of the table of event kinds in docs/hash-format.md, by kind."""
    spec = HASH_FORMAT_DOC.read_text(encoding="utf-8")
    section = spec[spec.index("## Event payload"):]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    rows = {}
    for line in section.splitlines():
        found = re.match(r"\| `([a-z_]+)` \|", line)
        if found and found.group(1) not in rows:
            rows[found.group(1)] = line
    return rows


def test_docs_hash_format_documents_every_event_kind_and_every_details_field_written():
    from chalicelib.domain.event_kinds import KINDS

    rows = _event_rows()
    missing = []
    for vector in RECORD_VECTORS:
        data = vector["record"]["data"]
        if vector["record"]["type"] != "event":
            continue
        for name in data["details"]:
            if f"`{name}`" not in rows.get(data["kind"], ""):
                missing.append((data["kind"], name))

    assert set(rows) >= KINDS
    assert missing == []
