"""Write proofs (decision 0022): what the sealing service adds to each entry, and what every
verifier asks of it. One contract for the key-file adapter and the KMS one (moto in process)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.signing import MessageRefused
from chalicelib.adapters.write_proofs import KmsWriteProofs, LocalWriteProofs, write_proofs_for
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import chain_key, seal
from chalicelib.domain.verification import verify_chain
from chalicelib.domain.write_proofs import (
    BAD_WRITE_PROOF,
    MISSING_WRITE_PROOF,
    WriteProof,
    WriteProofCheck,
    proof_message,
)
from chalicelib.services.sealing import ChainWriter

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
HASH = "ab" * 32


def _hmac_key(kms) -> str:
    return kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]


@pytest.fixture(params=["local", "kms"])
def proofs(request, tmp_path):
    """(adapter, another deployment's adapter of the same kind)"""
    if request.param == "local":
        yield LocalWriteProofs(tmp_path / "a"), LocalWriteProofs(tmp_path / "b")
        return
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        yield KmsWriteProofs(kms, _hmac_key(kms)), KmsWriteProofs(kms, _hmac_key(kms))


def test_a_proof_verifies_for_the_hash_it_was_made_for(proofs):
    mine, _ = proofs
    proof = mine.prove(proof_message(HASH))
    assert proof.key_id == mine.key_id
    assert len(base64.b64decode(proof.mac)) == 32
    assert mine.problem(proof_message(HASH), proof) is None


def test_a_proof_does_not_verify_for_another_hash(proofs):
    mine, _ = proofs
    proof = mine.prove(proof_message(HASH))
    why = mine.problem(proof_message("cd" * 32), proof)
    assert why is not None and "changed" in why


def test_a_proof_made_with_a_key_of_another_deployment_is_refused_by_name(proofs):
    mine, theirs = proofs
    forged = theirs.prove(proof_message(HASH))
    why = mine.problem(proof_message(HASH), forged)
    assert why is not None and "not a write-proof key of this deployment" in why


def test_a_proof_claiming_our_key_with_another_keys_mac_is_refused(proofs):
    mine, theirs = proofs
    forged = WriteProof(mine.key_id, theirs.prove(proof_message(HASH)).mac)
    assert mine.problem(proof_message(HASH), forged) is not None


@pytest.mark.parametrize("mac", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_mac_that_is_not_32_bytes_of_base64_is_refused(proofs, mac):
    mine, _ = proofs
    assert "not base64 of 32 bytes" in mine.problem(proof_message(HASH), WriteProof(mine.key_id, mac))


def test_messages_outside_kms_limits_are_refused_as_kms_refuses_them(proofs):
    mine, _ = proofs
    with pytest.raises(MessageRefused):
        mine.prove(b"x" * 4097)
    with pytest.raises(MessageRefused):
        mine.prove(b"")


def test_the_local_key_is_kept_and_reused_and_a_new_key_has_a_new_id(tmp_path):
    first = LocalWriteProofs(tmp_path)
    again = LocalWriteProofs(tmp_path)
    assert again.key_id == first.key_id
    proof = first.prove(proof_message(HASH))
    assert again.problem(proof_message(HASH), proof) is None
    assert (tmp_path / "write-proof.hmac").stat().st_mode & 0o777 == 0o600
    (tmp_path / "write-proof.hmac").unlink()
    replaced = LocalWriteProofs(tmp_path)
    assert replaced.key_id != first.key_id
    assert replaced.problem(proof_message(HASH), proof) is not None


def test_a_retired_kms_key_still_verifies_its_proofs_after_a_rotation():
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        old_key, new_key = _hmac_key(kms), _hmac_key(kms)
        old_proof = KmsWriteProofs(kms, old_key).prove(proof_message(HASH))
        rotated = KmsWriteProofs(kms, new_key, accepted=[old_key])
        assert rotated.prove(proof_message(HASH)).key_id == new_key
        assert rotated.problem(proof_message(HASH), old_proof) is None
        assert KmsWriteProofs(kms, new_key).problem(proof_message(HASH), old_proof) is not None


class _FailingKms:
    def __init__(self, code: str) -> None:
        self.code = code

    def _fail(self, operation: str, **kwargs):
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, operation)

    def generate_mac(self, **kwargs):
        self._fail("GenerateMac")

    def verify_mac(self, **kwargs):
        self._fail("VerifyMac")


@pytest.mark.parametrize("code", ["ThrottlingException", "KMSInternalException", "DisabledException"])
def test_kms_trouble_is_unavailable_never_a_finding_of_tampering(code):
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    adapter = KmsWriteProofs(_FailingKms(code), arn)
    with pytest.raises(Unavailable):
        adapter.prove(proof_message(HASH))
    with pytest.raises(Unavailable):
        adapter.problem(proof_message(HASH), WriteProof(arn, base64.b64encode(b"0" * 32).decode()))


def test_a_kms_key_must_be_named_by_its_arn():
    with pytest.raises(ValueError, match="ARN"):
        KmsWriteProofs(object(), "alias/scelle-write-proof")


def test_the_configured_key_id_picks_the_adapter(tmp_path):
    assert isinstance(write_proofs_for("local:write-proof", key_dir=tmp_path, kms=None), LocalWriteProofs)
    with pytest.raises(ValueError):
        write_proofs_for("local:write-proof", key_dir=None, kms=None)


# ---- the writer adds them; the check asks for them ------------------------------------------------


def test_every_record_the_writer_seals_carries_a_proof_of_its_own_hash(tmp_path):
    proofs = LocalWriteProofs(tmp_path)
    store = InMemoryChainStore()
    writer = ChainWriter(store, clock=lambda: T0, prover=proofs, sleep=lambda s: None)
    writer.append("t1", "prod.sales.R1", "memo", {"n": 1}, training=False)
    writer.append_batch("t1", "prod.sales.R1", [("memo", {"n": 2}), ("memo", {"n": 3})], training=False)
    stored = list(store.scan(chain_key("t1", "prod.sales.R1")))
    assert [r.seq for r in stored] == [1, 2, 3]
    for record in stored:
        assert record.write_proof is not None
        assert proofs.problem(proof_message(record.hash), record.write_proof) is None


def test_a_writer_that_lost_a_race_proves_the_record_it_finally_wrote(tmp_path):
    proofs = LocalWriteProofs(tmp_path)
    store = InMemoryChainStore()
    mine = ChainWriter(store, clock=lambda: T0, prover=proofs, sleep=lambda s: None)
    theirs = ChainWriter(store, clock=lambda: T0, prover=proofs, sleep=lambda s: None)
    mine.append("t1", "c", "memo", {"by": "mine"}, training=False)
    theirs.append("t1", "c", "memo", {"by": "theirs"}, training=False)
    late = mine.append("t1", "c", "memo", {"by": "mine again"}, training=False)  # stale head: retried at seq 3
    assert late.seq == 3
    assert proofs.problem(proof_message(late.hash), store.get(chain_key("t1", "c"), 3).write_proof) is None


def _chain(tmp_path, proofs, *, forged_at: int | None = None, n: int = 5):
    """n records of one chain, all proven except ``forged_at``: correctly hashed and linked, no proof."""
    records, prev = [], "0" * 64
    for seq in range(1, n + 1):
        record = seal("t1", "prod.sales.R1", seq, "memo", T0, False, {"n": seq}, prev)
        if seq != forged_at:
            record = record.with_write_proof(proofs.prove(proof_message(record.hash)))
        records.append(record)
        prev = record.hash
    return records


def test_the_check_names_the_first_correctly_hashed_entry_without_a_proof(tmp_path):
    proofs = LocalWriteProofs(tmp_path)
    report = verify_chain(_chain(tmp_path, proofs, forged_at=4), tenant_id="t1", chain="prod.sales.R1",
                          extra_checks=[WriteProofCheck(proofs.problem)])
    assert (report.ok, report.reason, report.first_bad_seq) == (False, MISSING_WRITE_PROOF, 4)
    assert "not written by the sealing service" in report.detail
    assert report.detail.startswith("seq 4: ") and report.detail.count("seq 4") == 1  # was "seq 4: seq 4 …"


def test_the_check_names_an_entry_whose_proof_belongs_to_another_entry(tmp_path):
    proofs = LocalWriteProofs(tmp_path)
    records = _chain(tmp_path, proofs)
    records[2] = records[2].with_write_proof(records[1].write_proof)  # a proof copied from seq 2 onto seq 3
    report = verify_chain(records, tenant_id="t1", chain="prod.sales.R1",
                          extra_checks=[WriteProofCheck(proofs.problem)])
    assert (report.reason, report.first_bad_seq) == (BAD_WRITE_PROOF, 3)
    assert report.detail.startswith("seq 3: its write proof") and report.detail.count("seq 3") == 1


def test_entries_a_signed_checkpoint_covers_are_not_asked_again(tmp_path):
    proofs = LocalWriteProofs(tmp_path)
    records = _chain(tmp_path, proofs, forged_at=2)  # e.g. sealed before write proofs existed
    assert verify_chain(records, tenant_id="t1", chain="prod.sales.R1",
                        extra_checks=[WriteProofCheck(proofs.problem, after_seq=3)]).ok
    assert not verify_chain(records, tenant_id="t1", chain="prod.sales.R1",
                            extra_checks=[WriteProofCheck(proofs.problem, after_seq=1)]).ok


def test_the_published_vectors_are_what_the_adapter_computes(tmp_path):
    """tests/vectors/write-proofs.json, documented in docs/hash-format.md section 7."""
    import hashlib
    import hmac
    import json
    from pathlib import Path

    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "write-proofs.json").read_text())
    key = bytes.fromhex(vectors["key_hex"])
    (tmp_path / "write-proof.hmac").write_bytes(key)
    adapter = LocalWriteProofs(tmp_path)
    assert vectors["cases"]
    for case in vectors["cases"]:
        message = proof_message(case["hash"])
        assert message.hex() == case["message_hex"] and message.decode() == case["message"]
        assert hmac.new(key, message, hashlib.sha256).hexdigest() == case["mac_hex"]  # independent of our code
        proof = adapter.prove(message)
        assert proof.mac == case["mac_base64"]
        assert adapter.problem(message, WriteProof(adapter.key_id, case["mac_base64"])) is None
