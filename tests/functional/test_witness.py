"""The witness on the embedded stack (decision 0024): the scheduled signer submits each chain's
newest checkpoint, the witness keeps its cosignature in write-once storage, and a history
re-signed by whoever holds the log's signing key is refused with an alarm."""

from __future__ import annotations

import pytest

from chalicelib.adapters.witness_view import witness_prefix
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.merkle import record_leaf_hash, root
from chalicelib.domain.records import chain_key
from chalicelib.ports.checkpoints import StoredCheckpoint
from tests.support.continuous import alarms, append, new_tenant, private_stack
from tests.support.tamper import Tamperer

pytestmark = pytest.mark.functional
CHAIN = "prod.sales.R1"


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-witness")) as cv:
        yield cv


def test_the_schedule_has_each_new_checkpoint_co_signed_once_and_kept_write_once(cv):
    container = cv.container()
    tenant = new_tenant()
    key = chain_key(tenant, CHAIN)
    append(container, tenant, CHAIN, 7)
    run = container.checkpoint_signer.run(tenants=[tenant])
    assert (tenant, CHAIN, 7) in run.cosigned
    append(container, tenant, CHAIN, 5, start=7)
    run = container.checkpoint_signer.run(tenants=[tenant])
    assert (tenant, CHAIN, 12) in run.cosigned
    again = container.checkpoint_signer.run(tenants=[tenant])
    assert not [c for c in again.cosigned if c[0] == tenant]  # nothing new: nothing submitted
    kept = container.witness_submitter.cosignatures(key)
    assert [c.size for c in kept] == [7, 12]
    objects = container.s3.list_objects_v2(Bucket=container.settings.bucket_name("archive"),
                                           Prefix=witness_prefix(key))["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in objects] == ["000000000007.cosig", "000000000012.cosig"]
    head = container.s3.head_object(Bucket=container.settings.bucket_name("archive"), Key=objects[-1]["Key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert alarms(container, tenant) == []


def test_a_history_re_signed_with_the_log_key_is_refused_by_the_witness(cv):
    """The platform operator rewrites an entry, recomputes every later hash and signs a new
    checkpoint with the log's own key: everything verifies locally, but the witness co-signed
    the old root at size 6 and refuses, with an alarm."""
    container = cv.container()
    tenant = new_tenant()
    key = chain_key(tenant, CHAIN)
    append(container, tenant, CHAIN, 6)
    container.checkpoint_signer.run(tenants=[tenant])
    original_root = container.checkpoint_store.latest(key).checkpoint.root
    # (the operator has stopped the stream verifier, which would otherwise see the rewrite at once)
    tamper = Tamperer(container.dynamodb, container.settings.table_name("journal"), key)
    tamper.modify(3, lambda item: item["data"].update(n=999))
    tamper.rehash_from(3)
    leaves = [record_leaf_hash(tamper.read(seq)["hash"]) for seq in range(1, 7)]
    signer = container.signer
    forged = Checkpoint(key, 6, root(leaves).hex(), "2099-01-01T00:00:00.000000Z", signer.key_id)
    forged = forged.with_signature(signer.sign(forged.signed_message()))
    # An operator is not held by IAM: the checkpoint at 6 is replaced by the re-signed one.
    container.dynamodb.delete_item(TableName=container.settings.table_name("checkpoints"),
                                   Key={"pk": {"S": key}, "sk": {"N": "6"}})
    container.checkpoint_store.put(StoredCheckpoint(forged, [], None, None))
    run = container.checkpoint_signer.run(tenants=[tenant])
    assert [r for r in run.refused if r[0] == tenant and r[2].startswith("witness:")]
    assert ("witness_fork", 6) in {(a["reason"], a["seq"]) for a in alarms(container, tenant)}
    assert [(c.size, c.root) for c in container.witness_submitter.cosignatures(key)] == [(6, original_root)]


def test_the_witness_key_is_published_with_its_role_once_it_co_signed(cv):
    from chalicelib.services.witness import published_witness_keys

    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, CHAIN, 3)
    container.checkpoint_signer.run(tenants=[tenant])
    keys = published_witness_keys(container.ops_store)
    assert [k.key_id for k in keys] == [container.witness.key_id]
    assert keys[0].public_key_pem == container.witness.public_key_pem()
