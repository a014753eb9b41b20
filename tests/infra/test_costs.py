"""The cost model: derived from the stack's counts, and the tables in docs/deploy.md are its output."""

from __future__ import annotations

from pathlib import Path

from infra import costs

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_the_contract_counts_are_those_of_the_synthesized_contract_stack(contract):
    assert costs.counts_from_template(contract.template) == costs.contract_counts()


def test_docs_deploy_shows_the_tables_the_model_computes():
    assert costs.report(costs.contract_counts()) in DEPLOY_DOC.read_text()


def test_each_line_is_quantity_times_unit_price_and_uses_the_stated_assumptions():
    a = costs.Assumptions()
    lines = {ln.item: ln for ln in costs.per_million_entries(a)}

    assert lines["KMS Sign (one per checkpoint)"].quantity == 1_000_000 / a.checkpoint_every
    assert lines["API Gateway REST requests"].cost == 3.5
    writes = lines["DynamoDB writes (entry, event, idempotency, checkpoints)"]
    assert writes.quantity == 1_000_000 * (1 + 1 + 1) + 10_000  # no index copy (decision 0027)


def test_write_proofs_cost_one_generate_mac_and_two_verify_macs_per_entry_and_event():
    a = costs.Assumptions()
    lines = {ln.item: ln for ln in costs.per_million_entries(a)}
    sealed = 1_000_000 * (1 + a.events_per_entry)

    generate = lines["KMS GenerateMac (write proof of each entry and event)"]
    verify = lines["KMS VerifyMac (stream verifier and signer, each entry and event)"]
    assert generate.quantity == sealed and verify.quantity == 2 * sealed
    assert generate.unit_price == verify.unit_price == costs.PRICES["kms_hmac_per_10k"] / 10_000
    assert round(generate.cost + verify.cost, 2) == 18.00


def test_the_contract_stack_pays_for_one_key_per_shared_definition():
    from chalicelib.resources import RESOURCES

    assert costs.contract_counts().kms_keys == len(RESOURCES.keys) == 4


def test_the_contract_stack_has_one_table_per_shared_definition_and_tables_cost_nothing_at_rest():
    """On-demand tables are billed per request and per GB stored (with PITR): the keys table
    (issue 14 item 3) adds a line of zero at rest and a few items of storage."""
    from chalicelib.resources import RESOURCES

    counts = costs.contract_counts()
    assert counts.tables == len(RESOURCES.tables) == 9  # the tiles table: decision 0026
    (line,) = [ln for ln in costs.at_rest(counts) if ln.item.startswith("DynamoDB tables")]
    assert line.quantity == 9 and line.cost == 0


def test_the_witness_costs_one_cosignature_per_chain_and_signing_run():
    """Decision 0024: per chain and 5-minute run with new entries, the witness is invoked (latest,
    add), signs once with its ECC key (the asymmetric price) and lists, reads and writes its view;
    the signer keeps the cosignature in ops. Cheap, but per chain, whatever its volume."""
    a = costs.Assumptions()
    lines = {ln.item: ln for ln in costs.per_chain_month(a)}
    runs = 30 * 24 * 12
    assert a.signing_runs_per_month == runs

    sign = lines["KMS Sign by the witness's key (one cosignature per run)"]
    assert sign.quantity == runs and sign.unit_price == costs.PRICES["kms_ecc_sign_per_10k"] / 10_000
    assert lines["Lambda witness invocations (latest, add)"].quantity == 2 * runs
    assert lines["S3 witness view PUT (one locked object per cosignature)"].quantity == runs
    assert lines["S3 witness view LIST"].unit_price == costs.PRICES["s3_put_per_thousand"] / 1000  # LIST: PUT tier
    assert lines["S3 witness view GET"].quantity == 2 * runs
    assert lines["DynamoDB writes (the cosignature kept in ops)"].quantity == runs
    monthly = sum(ln.cost for ln in lines.values() if not ln.item.startswith("Then each month"))
    assert 0.2 < monthly < 0.5


def test_batching_the_archive_divides_its_cost():
    one = {ln.item: ln.cost for ln in costs.per_million_entries(costs.Assumptions())}
    batched = {ln.item: ln.cost for ln in costs.per_million_entries(costs.Assumptions(entries_per_archive_object=100))}
    assert batched["S3 archive PUTs"] == one["S3 archive PUTs"] / 100
