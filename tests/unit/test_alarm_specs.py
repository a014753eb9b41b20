"""The alarm specs of chalicelib/alarms.py: contract metric names, sane thresholds, and a
runbook section for each alarm in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib.alarms import ALARMS, DASHBOARD, NAMESPACE, alarm

ROOT = Path(__file__).resolve().parents[2]


def _contract_metrics() -> set[str]:
    text = (ROOT / "docs/decisions/0000-contracts-between-modules.md").read_text()
    section = text.split("## Metrics", 1)[1]
    return set(re.findall(r"`([A-Za-z]+)`", section))


def test_every_scelle_alarm_and_widget_uses_a_contract_metric_name():
    names = _contract_metrics()
    assert {a.metric for a in ALARMS if a.namespace == NAMESPACE} <= names
    assert {m for w in DASHBOARD for m in w.metrics} <= names


def test_the_issue_metrics_each_have_an_alarm():
    alarmed = {a.metric for a in ALARMS}
    assert {"TamperAlarms", "VerificationFailures", "StreamBatchFailures", "ArchiveLagSeconds",
            "AppendConflicts"} <= alarmed


def test_alarms_are_well_formed():
    assert len({a.name for a in ALARMS}) == len(ALARMS)
    for spec in ALARMS:
        assert spec.statistic in ("Sum", "Maximum", "Average")
        assert spec.comparison.endswith("Threshold")
        assert spec.period_seconds % 60 == 0 and spec.datapoints_to_alarm <= spec.evaluation_periods
        assert spec.severity in ("page", "ticket") and spec.meaning and spec.action


def test_every_alarm_has_a_runbook_section():
    runbook = (ROOT / "docs/operations.md").read_text()
    for spec in ALARMS:
        assert f'<a id="{spec.runbook}"></a>' in runbook, spec.name


def test_a_lambda_alarm_names_its_function_with_the_stack_prefix():
    assert alarm("stream-iterator-age").resolved_dimensions("scelle-prod") == {
        "FunctionName": "scelle-prod-on_journal_record"
    }
