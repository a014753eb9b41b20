"""The daily Z report (decision 0024 item 7): once a signed checkpoint covers a day's closure,
the tenant's admins and accountants get its totals and that checkpoint's root, once."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
from chalicelib.commands.export_sample import MemoryStack
from chalicelib.domain.records import chain_key
from chalicelib.services.closure_reports import ClosureReporter

CHAIN = "prod.sales.R1"


@dataclass
class Mailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        self.sent.append((to, subject, text))
        return str(len(self.sent))


class OneTenant:
    def __init__(self, tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id):
        return self.tenant


@pytest.fixture
def traded(tmp_path):
    stack = MemoryStack(tmp_path, country="FR")
    stack.trade(days=2, sales_per_day=5)
    mailer = Mailer()
    reporter = ClosureReporter(index=stack.index, journal_store=stack.journal, checkpoint_store=stack.checkpoint_store,
                               ops=InMemoryOpsStore(), tenants=OneTenant(stack.tenant),
                               recipients=lambda tenant_id: ["gerant@demo.example", "compta@demo.example"],
                               mailer=lambda: mailer, clock=stack.clock)
    return stack, reporter, mailer


def _closures(stack):
    return {period: seq for _, period, seq in stack.index.closures(stack.tenant.tenant_id, CHAIN, "day")}


def test_each_covered_day_closure_is_mailed_once_with_the_checkpoint_that_covers_it(traded):
    stack, reporter, mailer = traded
    tenant = stack.tenant.tenant_id
    checkpoint = stack.checkpoints.checkpoint(tenant, CHAIN)
    closures = _closures(stack)
    assert reporter.report(tenant, CHAIN) == sorted(closures.values())
    assert len(mailer.sent) == 2 * len(closures)  # the admin and the accountant, each day
    to, subject, text = mailer.sent[-1]
    last = stack.journal.get(chain_key(tenant, CHAIN), max(closures.values()))
    assert to == "compta@demo.example"
    assert subject.startswith("[Scellé] Z R1 2026-02-26 — ")
    assert f"racine / root : {checkpoint.root}" in text and f"taille / size : {checkpoint.size}" in text
    assert last.hash in text
    gross = last.data["period_grand_total"]
    assert f"{gross // 100},{gross % 100:02d} EUR" in text
    assert reporter.report(tenant, CHAIN) == []  # nothing new: nothing sent again
    assert len(mailer.sent) == 2 * len(closures)


def test_a_closure_no_signed_checkpoint_covers_yet_waits_for_one(tmp_path):
    from datetime import date

    stack = MemoryStack(tmp_path, country="FR")
    mailer = Mailer()
    reporter = ClosureReporter(index=stack.index, journal_store=stack.journal, checkpoint_store=stack.checkpoint_store,
                               ops=InMemoryOpsStore(), tenants=OneTenant(stack.tenant),
                               recipients=lambda tenant_id: ["gerant@demo.example"], mailer=lambda: mailer,
                               clock=stack.clock)
    tenant = stack.tenant.tenant_id
    stack.trade(days=1, sales_per_day=5, start=date(2026, 2, 25))
    (first,) = _closures(stack).values()
    assert reporter.report(tenant, CHAIN) == []  # sealed, but no signed checkpoint covers it
    stack.checkpoints.checkpoint(tenant, CHAIN)
    assert reporter.report(tenant, CHAIN) == [first]
    stack.trade(days=1, sales_per_day=5, start=date(2026, 2, 26), seed=8)
    second = _closures(stack)["2026-02-26"]
    assert reporter.report(tenant, CHAIN) == []
    stack.checkpoints.checkpoint(tenant, CHAIN)
    assert reporter.report(tenant, CHAIN) == [second]
    assert [subject.split(" — ")[0] for _, subject, _ in mailer.sent] == ["[Scellé] Z R1 2026-02-25",
                                                                          "[Scellé] Z R1 2026-02-26"]


def test_test_chains_and_the_event_journal_get_no_z_report(traded):
    stack, reporter, mailer = traded
    assert reporter.report(stack.tenant.tenant_id, "test.sales.R1") == []
    assert reporter.report(stack.tenant.tenant_id, "events") == []
    assert mailer.sent == []
