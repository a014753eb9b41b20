"""Alarms and the dashboard: the product's Powertools metrics, plus Lambda, API and DLQ health.

The product alarms and dashboard widgets are ``chalicelib.alarms`` (one definition for this stack
and the runbook, docs/operations.md, with metric names of docs/decisions/0000); this module adds
Lambda errors/throttles, stream iterator age, dead letters (streams and work queues), the age of
the work queues' oldest units and API 5xx. Alarms notify one SNS topic; informational ones
(severity ``info``, ``chalicelib.alarms.INFORMATIONAL``) only change state on the dashboard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from chalicelib.alarms import ALL_ALARMS, DASHBOARD
from chalicelib.observability import NAMESPACE, SERVICE
from chalicelib.resources import RESOURCES
from infra.stacks.data import DataResources
from infra.stacks.functions import API_STAGE, Functions
from infra.stacks.permissions import DISPATCHERS
from infra.stacks.settings import StackSettings

GTE = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
NOT_BREACHING = cw.TreatMissingData.NOT_BREACHING


# The runbook's alarms (page, ticket) and the informational ones, all from chalicelib/alarms.py.
PRODUCT_ALARMS = ALL_ALARMS
# A work queue's oldest unit may wait this many of its schedule's periods before it alarms: the
# dispatcher sends each chain's unit once per period, so an older one is a stuck or throttled worker.
QUEUE_AGE_PERIODS = 2
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    """Seconds between two runs of an EventBridge ``rate(...)`` schedule."""
    match = _RATE.match(expression or "")
    if not match:
        raise ValueError(f"not a rate(...) schedule: {expression!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def queue_age_limits(functions: Functions) -> dict[str, int]:
    """Work queue -> the age (seconds) of its oldest unit that alarms: ``QUEUE_AGE_PERIODS`` periods
    of the schedule that sends its units (``DISPATCHERS``)."""
    schedules = {s.name: s.schedule for s in functions.specs if s.kind == "schedule"}
    return {q.logical: QUEUE_AGE_PERIODS * rate_seconds(schedules[DISPATCHERS[q.logical]])
            for q in RESOURCES.queues if DISPATCHERS[q.logical] in schedules}


def _enum_name(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()


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


def build_monitoring(
    scope: Construct, settings: StackSettings, functions: Functions, data: DataResources
) -> Monitoring:
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

    for spec in PRODUCT_ALARMS:
        metric = cw.Metric(
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions_map=spec.resolved_dimensions(prefix),
            statistic=spec.statistic,
            period=Duration.seconds(spec.period_seconds),
        )
        made = alarm(
            spec.name,
            metric,
            spec.threshold,
            getattr(cw.ComparisonOperator, _enum_name(spec.comparison)),
            f"[{spec.severity}] {spec.meaning} Action: {spec.action} (docs/operations.md#{spec.runbook})",
            periods=spec.evaluation_periods,
            notify=spec.severity != "info",
            missing=getattr(cw.TreatMissingData, _enum_name(spec.treat_missing_data)),
        )
        made.node.default_child.datapoints_to_alarm = spec.datapoints_to_alarm
    iterator_alarmed = {
        s.resolved_dimensions(prefix).get("FunctionName") for s in PRODUCT_ALARMS if s.metric == "IteratorAge"
    }

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
        if spec.kind == "stream" and name not in iterator_alarmed:
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
    age_limits = queue_age_limits(functions)
    for queue in RESOURCES.queues:
        camel = _camel(queue.logical)
        alarm(
            f"{camel}DeadLetters",
            data.queue_dlqs[queue.logical].metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            0,
            GT,
            f"a unit of {queue.logical} failed {queue.max_receives} times ({queue.consumer}): read it, fix the "
            "cause, redrive it (docs/operations.md#work-dead-letters)",
        )
        if queue.logical in age_limits:
            alarm(
                f"{camel}OldestUnit",
                data.queues[queue.logical].metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                age_limits[queue.logical],
                GT,
                f"units of {queue.logical} wait over {age_limits[queue.logical]} s: {queue.consumer} fails, is "
                "throttled or a chain's group is blocked (docs/operations.md#work-dead-letters)",
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
                title=widget.title,
                width=6,
                left=[product_metric(m, widget.statistic) for m in widget.metrics],
            )
            for widget in DASHBOARD
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
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))
