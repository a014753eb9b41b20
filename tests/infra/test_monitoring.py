"""Alarms on the verification metrics, Lambda and API health, and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.alarms import ALARMS, ALL_ALARMS, INFORMATIONAL, alarm
from chalicelib.observability import NAMESPACE, SERVICE
from chalicelib.resources import RESOURCES

PREFIX = "scelle-prod"
NOTIFYING = (
    "VerificationFailures",
    "TamperAlarms",
    "ArchiveLagSeconds",
    "StreamBatchFailures",
    "AppendConflicts",
    "TicketsOverdue",
)
CONTRACT_METRICS = (
    "EntriesAppended",
    "AppendConflicts",
    "VerificationFailures",
    "TamperAlarms",
    "ArchiveLagSeconds",
    "StreamBatchFailures",
    "CheckpointsSigned",
    "ClosuresWritten",
    "SignInFailures",
    "Anomalies",
    "TicketsOverdue",
    "FirstResponseBusinessMinutes",
    "MailsSent",
)


def _alarms(synth, namespace, metric):
    return [
        r["Properties"]
        for r in synth.resources("AWS::CloudWatch::Alarm").values()
        if r["Properties"].get("Namespace") == namespace and r["Properties"].get("MetricName") == metric
    ]


def _topic_id(synth):
    (topic,) = synth.resources("AWS::SNS::Topic")
    return topic


@pytest.mark.parametrize("metric", NOTIFYING)
def test_each_verification_metric_has_an_alarm_that_notifies(real, metric):
    (alarm,) = _alarms(real, NAMESPACE, metric)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert alarm["AlarmActions"] == [{"Ref": _topic_id(real)}]
    assert alarm["TreatMissingData"] == "notBreaching"


def test_every_alarm_of_the_runbook_list_is_deployed_under_its_name(real):
    names = {r["Properties"]["AlarmName"] for r in real.resources("AWS::CloudWatch::Alarm").values()}
    for spec in ALL_ALARMS:
        assert f"{PREFIX}-{spec.name}" in names
        (alarm,) = [
            r["Properties"]
            for r in real.resources("AWS::CloudWatch::Alarm").values()
            if r["Properties"]["AlarmName"] == f"{PREFIX}-{spec.name}"
        ]
        assert alarm["Threshold"] == spec.threshold and alarm["DatapointsToAlarm"] == spec.datapoints_to_alarm
        assert alarm["Period"] == spec.period_seconds and alarm["ComparisonOperator"] == spec.comparison


def test_low_traffic_is_an_informational_alarm_only(real):
    (made,) = _alarms(real, NAMESPACE, "EntriesAppended")
    assert made["ActionsEnabled"] is False and "AlarmActions" not in made
    assert made["ComparisonOperator"] == "LessThanThreshold"
    assert made["TreatMissingData"] == "breaching"
    assert alarm("no-entries-24h") in INFORMATIONAL and alarm("tickets-overdue") in ALARMS


def test_the_stack_defines_no_product_alarm_of_its_own():
    """One definition: chalicelib/alarms.py, for the stack and the runbook alike."""
    from infra.stacks import monitoring

    assert monitoring.PRODUCT_ALARMS == ALL_ALARMS
    assert not hasattr(monitoring, "EXTRA_ALARMS")
    assert {a.severity for a in INFORMATIONAL} == {"info"} and "info" not in {a.severity for a in ALARMS}


def test_every_deployed_product_alarm_has_a_runbook_section():
    runbook = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for spec in ALL_ALARMS:
        assert f'<a id="{spec.runbook}"></a>' in runbook, spec.name


def test_every_function_has_error_and_throttle_alarms(each):
    for name in each.functions():
        for metric in ("Errors", "Throttles"):
            assert [
                a
                for a in _alarms(each, "AWS/Lambda", metric)
                if a["Dimensions"] == [{"Name": "FunctionName", "Value": name}]
            ], (name, metric)


def test_api_5xx_and_dead_letters_alarm(contract):
    (api,) = _alarms(contract, "AWS/ApiGateway", "5XXError")
    assert {"Name": "ApiName", "Value": f"{PREFIX}-api"} in api["Dimensions"]
    # the three stream dead-letter queues, and each work queue's (tests/infra/test_queues.py)
    assert len(_alarms(contract, "AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 3 + len(RESOURCES.queues)
    assert len(_alarms(contract, "AWS/Lambda", "IteratorAge")) == 3


def test_the_dashboard_shows_every_contract_metric(real):
    (dashboard,) = real.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in CONTRACT_METRICS:
        assert f'\\"{metric}\\"' in body, metric
