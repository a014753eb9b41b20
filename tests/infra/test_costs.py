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
    writes = lines["DynamoDB writes (entry + LSI, event + LSI, idempotency, checkpoints)"]
    assert writes.quantity == 1_000_000 * (2 * 2 + 1) + 10_000


def test_batching_the_archive_divides_its_cost():
    one = {ln.item: ln.cost for ln in costs.per_million_entries(costs.Assumptions())}
    batched = {ln.item: ln.cost for ln in costs.per_million_entries(costs.Assumptions(entries_per_archive_object=100))}
    assert batched["S3 archive PUTs"] == one["S3 archive PUTs"] / 100
