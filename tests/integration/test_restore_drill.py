"""`scelle restore-drill` restores the journal into a new table, verifies every chain, compares
with the archive and the signed checkpoints, and prints a report; and restoring an older copy of
the table over the current one is reported by the full verifier."""

from __future__ import annotations

import json

import pytest

from chalicelib import cli
from chalicelib.domain.records import chain_key
from tests.support.continuous import alarms, append, new_tenant, private_stack

pytestmark = pytest.mark.integration
CHAIN = "prod.sales.R1"


@pytest.fixture(scope="module")
def cv(stack, tmp_path_factory):
    with private_stack(stack, tmp_path_factory.mktemp("cv-drill")) as cv:
        yield cv


@pytest.fixture(scope="module")
def ledger(cv):
    """GIVEN a tenant with two production chains, checkpointed, streamed and archived."""
    container = cv.container()
    tenant = new_tenant()
    append(container, tenant, CHAIN, 6)
    append(container, tenant, "prod.journal", 3)
    container.checkpoint_signer.run(tenants=[tenant])
    cv.drain()
    for chain in (CHAIN, "prod.journal"):
        container.archiver.flush(chain_key(tenant, chain), force=True)
    return tenant


def _drill(capsys, *args):
    code = cli.main(["restore-drill", *args])
    return code, capsys.readouterr().out


def test_a_point_in_time_restore_drill_verifies_every_chain_and_passes(cv, ledger, capsys):
    cv.container()
    code, out = _drill(capsys, "--tenant", ledger)
    assert code == 0, out
    assert "source         pitr (latest restorable time)" in out
    assert f"[ok    ] {ledger}/{CHAIN}: 6 entries, 6 under signed checkpoints; archive 6, latest checkpoint 6" in out
    assert f"[ok    ] {ledger}/prod.journal: 3 entries" in out
    assert out.rstrip().endswith("RESULT: PASSED")
    tables = cv.container().dynamodb.list_tables()["TableNames"]
    assert not [t for t in tables if "-drill-" in t]  # the drill table is deleted


def test_a_drill_from_the_archive_alone_rebuilds_and_verifies_the_chains(cv, ledger, capsys):
    cv.container()
    code, out = _drill(capsys, "--source", "archive", "--tenant", ledger, "--json")
    report = json.loads(out)
    assert (code, report["ok"], report["source"]) == (0, True, "archive")
    assert {(c["chain"], c["status"], c["size"]) for c in report["chains"]} == {(CHAIN, "ok", 6),
                                                                                ("prod.journal", "ok", 3)}


def test_a_drill_from_an_older_backup_says_which_entries_come_from_the_archive(cv, ledger, capsys):
    container = cv.container()
    assert cli.main(["backup", "--table", "journal"]) == 0
    capsys.readouterr()
    append(container, ledger, CHAIN, 2, start=6)
    container.checkpoint_signer.run(tenants=[ledger])
    cv.drain()
    container.archiver.flush(chain_key(ledger, CHAIN), force=True)
    code, out = _drill(capsys, "--source", "backup", "--tenant", ledger)
    assert code == 0, out
    assert f"[behind] {ledger}/{CHAIN}: 6 entries" in out
    assert "the archive holds entries 7 to 8: recover them from the archive" in out


def test_a_past_restore_time_is_refused_by_the_emulator_with_a_reason(cv, capsys):
    cv.container()
    code = cli.main(["restore-drill", "--at", "2026-01-01T00:00:00Z"])
    assert code == 2
    assert "ignores its time" in capsys.readouterr().err


def test_an_older_copy_restored_over_the_tables_is_reported_by_the_full_verifier(stack, tmp_path_factory):
    # GIVEN a private stack whose journal and checkpoints tables are backed up at 5 entries...
    with private_stack(stack, tmp_path_factory.mktemp("cv-rollback")) as cv:
        container = cv.container()
        tenant = new_tenant()
        append(container, tenant, CHAIN, 5)
        container.checkpoint_signer.run(tenants=[tenant])
        cv.drain()
        backups = {t: container.backups.create(t) for t in ("journal", "checkpoints")}
        # ...then grow to 9 entries, signed, streamed and archived
        append(container, tenant, CHAIN, 4, start=5)
        container.checkpoint_signer.run(tenants=[tenant])
        cv.drain()
        container.archiver.flush(chain_key(tenant, CHAIN), force=True)
        assert container.full_verifier.verify(tenant, CHAIN).ok
        # WHEN both tables are replaced by their older copies (no stream record is emitted)
        ddb = container.dynamodb
        for logical, arn in backups.items():
            name = container.settings.table_name(logical)
            ddb.delete_table(TableName=name)
            ddb.restore_table_from_backup(TargetTableName=name, BackupArn=arn)
        # THEN the table still verifies on its own, but the full verifier reports the rollback
        assert container.verification.verify(tenant, CHAIN).ok
        report = container.full_verifier.run(tenants=[tenant])
        (finding,) = [f for f in report.failures if f.chain == CHAIN]
        assert (finding.reason, finding.seq, finding.table_size) == ("rollback", 6, 5)
        assert "the archive holds entries up to seq 9" in finding.detail
        assert "a signed checkpoint in the archive covers 9 entries" in finding.detail
        # (the events chain, whose sale events were derived and signed after the backup, has its
        # checkpoints rolled back too, and is reported on its own)
        alarm = next(a for a in alarms(container, tenant) if a["source"] == "full" and a["chain"] == CHAIN)
        assert (alarm["chain"], alarm["seq"], alarm["reason"]) == (CHAIN, 6, "rollback")
        # AND the next hourly run reports the same state without a second alarm
        container.full_verifier.run(tenants=[tenant])
        assert len([a for a in alarms(container, tenant) if a["source"] == "full" and a["chain"] == CHAIN]) == 1


def test_the_drill_reports_each_chain_as_it_goes_and_stdout_holds_only_the_report(cv, ledger, capsys):
    """A progress bar when stderr is a terminal (fed by ``on_chain``), nothing otherwise: stdout is
    the report alone, whatever the drill logs on the way."""
    seen = []
    report = cv.container().restore_drill.run(tenants=[ledger], on_chain=lambda *a: seen.append(a))
    assert report.ok
    assert seen == [(1, 2, f"{ledger}/prod.journal"), (2, 2, f"{ledger}/{CHAIN}")]
    code = cli.main(["restore-drill", "--tenant", ledger, "--json"])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["ok"] is True  # nothing but the report on stdout
    assert "\r" not in captured.err  # stderr is not a terminal here: no bar drawn
