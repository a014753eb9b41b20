"""Alarms and the dashboard: the product's Powertools metrics, plus Lambda, API and DLQ health.

Metric names and the namespace/dimension come from ``chalicelib.observability`` and the contract
in docs/decisions/0000-contracts-between-modules.md. Alarms notify one SNS topic; informational
alarms (``notify=False``) only change state on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from chalicelib.observability import NAMESPACE, SERVICE
from infra.stacks.functions import API_STAGE, Functions
from infra.stacks.settings import StackSettings

GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
LT = cw.ComparisonOperator.LESS_THAN_THRESHOLD
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True)
class ProductAlarm:
    metric: str
    statistic: str
    threshold: float
    comparison: cw.ComparisonOperator
    why: str
    period_minutes: int = 5
    periods: int = 1
    missing: cw.TreatMissingData = NOT_BREACHING
    notify: bool = True


PRODUCT_ALARMS = (
    ProductAlarm("VerificationFailures", "Sum", 1, GTE, "a chain, checkpoint or archive failed verification"),
    ProductAlarm("TamperAlarms", "Sum", 1, GTE, "a sealed record was modified or removed"),
    ProductAlarm("ArchiveLagSeconds", "Maximum", 900, GT, "the archive is more than 15 minutes behind", periods=3),
    ProductAlarm("StreamBatchFailures", "Sum", 1, GTE, "a stream handler reported failed records"),
    ProductAlarm("AppendConflicts", "Sum", 100, GT, "sustained write contention on chain heads", periods=3),
    ProductAlarm("TicketsOverdue", "Maximum", 1, GTE, "a support ticket is past its response time", period_minutes=15),
    # Informational: no entry appended for 24 hours (quiet tenants are normal; a dead API is not).
    ProductAlarm(
        "EntriesAppended",
        "Sum",
        1,
        LT,
        "no entry appended for 24 hours (informational)",
        period_minutes=60,
        periods=24,
        missing=cw.TreatMissingData.BREACHING,
        notify=False,
    ),
)
DASHBOARD_METRICS = (
    ("Ledger", ("EntriesAppended", "AppendConflicts", "CheckpointsSigned", "ClosuresWritten")),
    ("Integrity", ("VerificationFailures", "TamperAlarms", "StreamBatchFailures", "Anomalies")),
    ("Archive lag (s)", ("ArchiveLagSeconds",)),
    ("Users and support", ("SignInFailures", "TicketsOverdue", "FirstResponseBusinessMinutes", "MailsSent")),
)


def product_metric(name: str, statistic: str = "Sum", period_minutes: int = 5) -> cw.Metric:
    return cw.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=Duration.minutes(period_minutes),
    )


@dataclass
class Monitoring:
    topic: sns.Topic
    alarms: list[cw.Alarm]
    dashboard: cw.Dashboard


def build_monitoring(scope: Construct, settings: StackSettings, functions: Functions) -> Monitoring:
    prefix = settings.resource_prefix
    topic = sns.Topic(scope, "AlarmTopic", topic_name=f"{prefix}-alarms", enforce_ssl=True)
    if settings.alarm_email:
        topic.add_subscription(subs.EmailSubscription(settings.alarm_email))
    action = cw_actions.SnsAction(topic)
    alarms: list[cw.Alarm] = []

    def alarm(
        id_: str,
        metric: cw.IMetric,
        threshold: float,
        comparison,
        why: str,
        *,
        periods: int = 1,
        missing=NOT_BREACHING,
        notify: bool = True,
    ) -> cw.Alarm:
        made = cw.Alarm(
            scope,
            id_,
            alarm_name=f"{prefix}-{id_}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            treat_missing_data=missing,
            alarm_description=why,
            actions_enabled=notify,
        )
        if notify:
            made.add_alarm_action(action)
            made.add_ok_action(action)
        alarms.append(made)
        return made

    for a in PRODUCT_ALARMS:
        alarm(
            a.metric,
            product_metric(a.metric, a.statistic, a.period_minutes),
            a.threshold,
            a.comparison,
            a.why,
            periods=a.periods,
            missing=a.missing,
            notify=a.notify,
        )

    for spec in functions.specs:
        name = settings.function_name(spec.name)
        dims = {"FunctionName": name}
        for metric in ("Errors", "Throttles"):
            alarm(
                f"{spec.cfn_id}{metric}",
                cw.Metric(
                    namespace="AWS/Lambda",
                    metric_name=metric,
                    dimensions_map=dims,
                    statistic="Sum",
                    period=Duration.minutes(5),
                ),
                1,
                GTE,
                f"{name}: {metric.lower()}",
            )
        if spec.kind == "stream":
            alarm(
                f"{spec.cfn_id}IteratorAge",
                cw.Metric(
                    namespace="AWS/Lambda",
                    metric_name="IteratorAge",
                    dimensions_map=dims,
                    statistic="Maximum",
                    period=Duration.minutes(5),
                ),
                600_000,
                GT,
                f"{name}: stream records wait over 10 minutes",
                periods=3,
            )
    for name, queue in functions.dead_letter_queues.items():
        alarm(
            f"{_camel(name)}DeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            1,
            GTE,
            f"stream batches of {name} gave up after retries: redrive them (docs/deploy.md)",
        )

    api_dims = {"ApiName": f"{prefix}-api", "Stage": API_STAGE}
    has_api = any(s.kind == "api" for s in functions.specs)
    if has_api:
        alarm(
            "Api5xx",
            cw.Metric(
                namespace="AWS/ApiGateway",
                metric_name="5XXError",
                dimensions_map=api_dims,
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            1,
            GTE,
            "the API answered 5xx",
        )

    dashboard = cw.Dashboard(scope, "Dashboard", dashboard_name=prefix)
    dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24))
    dashboard.add_widgets(
        *[
            cw.GraphWidget(
                title=title,
                width=6,
                left=[product_metric(m, "Maximum" if m == "ArchiveLagSeconds" else "Sum") for m in names],
            )
            for title, names in DASHBOARD_METRICS
        ]
    )
    fn_names = [settings.function_name(s.name) for s in functions.specs]
    dashboard.add_widgets(
        *[
            cw.GraphWidget(
                title=f"Lambda {metric}",
                width=8,
                left=[
                    cw.Metric(
                        namespace="AWS/Lambda",
                        metric_name=metric,
                        dimensions_map={"FunctionName": n},
                        statistic=stat,
                        label=n.removeprefix(prefix + "-"),
                    )
                    for n in fn_names
                ],
            )
            for metric, stat in (("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99"))
        ]
    )
    if has_api:
        dashboard.add_widgets(
            *[
                cw.GraphWidget(
                    title=f"API {metric}",
                    width=8,
                    left=[
                        cw.Metric(
                            namespace="AWS/ApiGateway",
                            metric_name=metric,
                            dimensions_map=api_dims,
                            statistic=stat,
                        )
                    ],
                )
                for metric, stat in (("Count", "Sum"), ("4XXError", "Sum"), ("5XXError", "Sum"))
            ]
        )
    return Monitoring(topic, alarms, dashboard)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
