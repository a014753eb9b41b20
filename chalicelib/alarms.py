"""The CloudWatch alarms and dashboard of Scellé, as data: one definition for the CDK stack
(``infra/``) and the on-call runbook (``docs/operations.md``, one section per alarm, anchored by
``runbook``). Metric names are those of docs/decisions/0000 (namespace ``Scelle``); Powertools
adds the ``service`` dimension to every metric it emits.

Pure data: no boto3, no CDK import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMESPACE = "Scelle"
SERVICE_DIMENSION = {"service": "scelle"}


@dataclass(frozen=True)
class AlarmSpec:
    name: str  # the alarm is named "<resource prefix>-<name>"
    metric: str
    statistic: str  # "Sum" | "Maximum"
    comparison: str  # CloudWatch ComparisonOperator
    threshold: float
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    # "page": wake someone up; "ticket": next business day (both notify the alarm topic);
    # "info": dashboard state only, no notification (INFORMATIONAL)
    severity: str
    meaning: str
    action: str
    runbook: str  # anchor in docs/operations.md
    namespace: str = NAMESPACE
    # Values may contain "{prefix}" (the stack's resource prefix), e.g. a Lambda function name.
    dimensions: dict[str, str] = field(default_factory=lambda: dict(SERVICE_DIMENSION))
    treat_missing_data: str = "notBreaching"

    def resolved_dimensions(self, prefix: str) -> dict[str, str]:
        return {k: v.format(prefix=prefix) for k, v in self.dimensions.items()}


ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        name="tamper-alarm",
        metric="TamperAlarms",
        statistic="Sum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        period_seconds=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        severity="page",
        meaning="A sealed entry or signed checkpoint was changed, deleted, re-inserted or rolled back behind the "
                "application's back (stream verifier), or a witness (archive, checkpoint, stream head) has seen "
                "more than the table holds (full verifier).",
        action="Read the alarm (tenant, chain, seq, reason) in the logs or the tenant's anomalies; freeze access; "
               "compare with the archive; restore the affected chain from PITR or the archive.",
        runbook="tamper-alarm",
    ),
    AlarmSpec(
        name="verification-failure",
        metric="VerificationFailures",
        statistic="Sum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        period_seconds=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        severity="page",
        meaning="A chain failed verification (hash, link, gap, signed checkpoint, closure totals) in the full "
                "verifier, an on-demand verification or the restore drill.",
        action="Find the chain and the first bad seq in the log line 'verification failed'; treat as a tamper "
               "alarm unless the reason is a code defect (drift): then stop deployments and escalate.",
        runbook="verification-failure",
    ),
    AlarmSpec(
        name="stream-batch-failures",
        metric="StreamBatchFailures",
        statistic="Sum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        period_seconds=300,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        severity="page",
        meaning="Stream records have failed for 15 minutes in a row: the stream verifier and archiver are stuck "
                "on a record (they retry it in order; after the retries it goes to the dead-letter queue).",
        action="Read the 'stream record failed' errors; fix the cause (throttling, permissions, a bug); records "
               "in the dead-letter queue are caught up from the table when the next record of their chain "
               "arrives, or by redriving the queue.",
        runbook="stream-batch-failures",
    ),
    AlarmSpec(
        name="archive-lag",
        metric="ArchiveLagSeconds",
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=3600,
        period_seconds=900,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        severity="page",
        meaning="Entries have waited more than an hour for their archive segment (normal: under 20 minutes). "
                "Until archived, an entry has no copy that nobody can delete.",
        action="Check sign_chain and on_journal_record errors (S3, KMS, Object Lock); the entries are safe "
               "in the ops table's pending map and are written as soon as the cause is fixed.",
        runbook="archive-lag",
    ),
    AlarmSpec(
        name="stream-iterator-age",
        metric="IteratorAge",
        namespace="AWS/Lambda",
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=300_000,
        period_seconds=300,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        dimensions={"FunctionName": "{prefix}-on_journal_record"},
        severity="page",
        meaning="The journal stream handler is more than 5 minutes behind: tampering is no longer seen within "
                "seconds, and DynamoDB keeps stream records for 24 hours only.",
        action="Check the function's errors and throttles; raise its concurrency or batch size; never let the "
               "age approach 24 h (records would be lost: run the full verifier and a restore drill then).",
        runbook="stream-iterator-age",
    ),
    AlarmSpec(
        name="append-conflicts",
        metric="AppendConflicts",
        statistic="Sum",
        comparison="GreaterThanThreshold",
        threshold=500,
        period_seconds=300,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        severity="ticket",
        meaning="Many writers race for the same chains (each conflict is a retried append; clients may see 503 "
                "chain-busy).",
        action="Find the hot chains in the logs; spread registers over chains or batch appends.",
        runbook="append-conflicts",
    ),
    AlarmSpec(
        name="anomalies",
        metric="Anomalies",
        statistic="Sum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        period_seconds=3600,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        severity="ticket",
        meaning="The anomaly rules flagged something (sign-in burst, reversals, after-hours sales, first export, "
                "integrity). Tenant admins are mailed; integrity anomalies also page through tamper-alarm.",
        action="Nothing on the platform side unless support is asked; watch for many tenants at once.",
        runbook="anomalies",
    ),
    AlarmSpec(
        name="tickets-overdue",
        metric="TicketsOverdue",
        statistic="Maximum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        period_seconds=900,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        severity="ticket",
        meaning="A support ticket has had no first response within its business-hours target (check_ticket_sla, "
                "every 15 minutes).",
        action="Open the support queue and answer the overdue tickets first; the alarm clears at the next run "
               "once none is left.",
        runbook="tickets-overdue",
    ),
)

# Informational alarms: their state shows on the dashboard, they notify nobody.
INFORMATIONAL: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        # Quiet tenants are normal; a whole day without a single entry usually is not.
        name="no-entries-24h",
        metric="EntriesAppended",
        statistic="Sum",
        comparison="LessThanThreshold",
        threshold=1,
        period_seconds=3600,
        evaluation_periods=24,
        datapoints_to_alarm=24,
        severity="info",
        meaning="No entry was appended for 24 hours (no data counts as none).",
        action="Check that the API answers (GET /health, Api5xx, the API handler's errors) and that clients can "
               "sign in; at night or on a holiday it may simply be quiet.",
        runbook="no-entries-24h",
        treat_missing_data="breaching",
    ),
)

# Everything the stack deploys.
ALL_ALARMS: tuple[AlarmSpec, ...] = ALARMS + INFORMATIONAL


@dataclass(frozen=True)
class Widget:
    title: str
    metrics: tuple[str, ...]
    statistic: str = "Sum"


DASHBOARD: tuple[Widget, ...] = (
    Widget("Ledger writes", ("EntriesAppended", "AppendConflicts")),
    Widget("Integrity", ("TamperAlarms", "VerificationFailures", "Anomalies")),
    Widget("Stream processing", ("StreamBatchFailures",)),
    Widget("Archive lag (s)", ("ArchiveLagSeconds",), statistic="Maximum"),
    Widget("Signed checkpoints and closures", ("CheckpointsSigned", "ClosuresWritten")),
    Widget("Sign-ins and mail", ("SignInFailures", "MailsSent")),
    Widget("Support", ("TicketsOverdue", "FirstResponseBusinessMinutes"), statistic="Maximum"),
)


def alarm(name: str) -> AlarmSpec:
    return next(a for a in ALL_ALARMS if a.name == name)
