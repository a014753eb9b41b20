"""What Scellé costs on AWS: at rest (per month) and per million entries, from the stack's counts.

``python -m infra.costs [TEMPLATE.json]`` prints the tables in Markdown. Without a template it uses
the counts of the full contract stack (every handler of docs/decisions/0000 registered). The
tables in docs/deploy.md are this output; tests/infra/test_costs.py keeps them in step. A third
table prices what each chain costs per month whatever its volume: the independent witness and the
daily Z report (decision 0024), paid per 5-minute signing run with new entries.

Every price is an eu-west-1 (Ireland) on-demand list price in USD, without free tiers, as listed
on the AWS pricing pages on ``PRICES_DATE``. Check them again before quoting a customer.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from chalicelib.alarms import ALL_ALARMS

PRICES_DATE = "2025-06-01"
REGION = "eu-west-1"

# USD, eu-west-1. "per million" = per 1,000,000 requests/units.
PRICES: dict[str, float] = {
    "dynamodb_write_per_million": 0.7065,  # on-demand write request unit (1 KB), after Nov 2024 cut
    "dynamodb_read_per_million": 0.1413,  # on-demand read request unit (4 KB strongly consistent)
    "dynamodb_storage_gb_month": 0.283,
    "dynamodb_pitr_gb_month": 0.2264,
    "dynamodb_table_month": 0.0,  # on-demand capacity: nothing per table; storage and PITR per GB
    "dynamodb_stream_read_per_million": 0.0,  # GetRecords by a Lambda trigger is free
    "lambda_request_per_million": 0.20,
    "lambda_gb_second": 0.0000166667,  # x86_64
    "api_gateway_rest_per_million": 3.50,
    "s3_put_per_thousand": 0.005,  # PUT, COPY, POST and LIST requests
    "s3_get_per_thousand": 0.0004,
    "s3_standard_gb_month": 0.023,
    "s3_glacier_ir_gb_month": 0.005,
    "kms_key_month": 1.00,
    "kms_symmetric_per_10k": 0.03,
    "kms_ecc_sign_per_10k": 0.15,
    # GenerateMac/VerifyMac on an HMAC key: the rate of ordinary (symmetric) requests. The $1
    # key-month of HMAC keys is on the AWS page; this request rate was not read there (re-check).
    "kms_hmac_per_10k": 0.03,
    "cloudwatch_alarm_month": 0.10,
    "cloudwatch_dashboard_month": 3.00,
    "cloudwatch_custom_metric_month": 0.30,
    "cloudwatch_logs_ingest_gb": 0.57,
    "xray_trace_per_million": 5.00,
    "ses_per_thousand": 0.10,  # outbound mail
    "sqs_fifo_per_million": 0.50,  # FIFO requests, each 64 KB chunk one request (decision 0028)
}


@dataclass(frozen=True)
class Assumptions:
    """The traffic model behind "per million entries". Each is stated in docs/deploy.md."""

    entry_kb: float = 1.0  # a sale receipt or journal entry, as stored (under 1 KB rounds to 1 WRU)
    events_per_entry: int = 1  # each sale/correction is also a JET event (events table, same shape)
    idempotency_writes_per_entry: int = 1
    reads_per_entry: int = 3  # head of chain, membership check, idempotency check (strong reads)
    api_ms: int = 150  # api_handler duration per request
    api_memory_mb: int = 1024
    stream_batch: int = 10  # records per stream invocation (mappings allow 100; 10 under light load)
    stream_ms: int = 300
    stream_memory_mb: int = 512
    entries_per_archive_object: int = 1  # the archiver writes one object per record (worst case)
    archive_object_kb: float = 1.6  # entry + AWS Encryption SDK header and signature
    data_keys_per_archive_object: float = 1.0  # no data-key caching (worst case)
    # SCELLE_CHECKPOINT_EVERY default: signed by the journal's stream handler (on_journal_record),
    # off the API's request path; on-demand checkpoints (POST …/checkpoints, one synchronous
    # invocation of sign_checkpoints each) are rare and not counted.
    checkpoint_every: int = 100
    # Write proofs (decision 0022): one GenerateMac per sealed record (entry or event); VerifyMac by
    # the stream verifier and by the signer that first signs it (the hourly verifier re-checks only
    # the few records after the newest checkpoint).
    mac_checks_per_record: int = 2
    log_kb_per_request: float = 1.0
    xray_sampled: float = 0.05  # default sampling: 1 request/s + 5 %
    # The item (1 KB) + DynamoDB's 100 B per item, per million entries: no index copy since the
    # by_time LSI was removed (decision 0027).
    stored_gb_per_million: float = 1.05
    # The witness and the Z report, per chain (decision 0024). Worst case: new entries in every
    # 5-minute run of sign_checkpoints, so the witness co-signs every run.
    signing_runs_per_month: int = 8_640  # 30 days of 5-minute runs
    witness_invocations_per_run: int = 2  # latest, then add (describe once per cold start: not counted)
    witness_ms: int = 200  # per invocation: S3 LIST + GET, KMS Sign, S3 PUT
    witness_memory_mb: int = 512
    witness_lists_per_run: int = 2  # ObjectWitnessView.latest on latest and again on add
    witness_gets_per_run: int = 2
    # Signer side, per run: the kept cosignature (ops GetItem), the newest checkpoint (twice), the
    # compact range below the witnessed size and the entries after it (Query), the Z report's
    # newest checkpoint, cursor and closures index: strongly consistent reads of one RRU each.
    signer_reads_per_run: int = 8
    cosignature_kb: float = 0.7  # the cosignature text, in the witness's view and in ops
    z_report_recipients: int = 2  # admins and accountants of the tenant; one day closure a day
    # Scheduled work, one unit per chain per run (decision 0028): sign every 5 minutes, close and
    # verify hourly. Per unit: a tenth of a SendMessageBatch, Lambda's receive and delete.
    work_units_per_month: int = 8_640 + 720 + 720
    sqs_requests_per_unit: float = 2.1
    worker_ms: int = 150  # a signing or closing unit with nothing to do, at 512 MB (reads only)


@dataclass(frozen=True)
class Counts:
    """Pricing dimensions read from a synthesized template."""

    alarms: int
    dashboards: int
    kms_keys: int
    custom_metrics: int
    tables: int = 0  # DynamoDB tables (on demand: nothing at rest beyond the data they hold)
    schedules: dict[str, tuple[float, int]] = field(default_factory=dict)  # name -> (runs/month, MB)


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float
    unit: str
    unit_price: float

    @property
    def cost(self) -> float:
        return self.quantity * self.unit_price


# Compute per run of a schedule, its units included (decision 0028: the schedule queues one unit
# per chain, its worker does the work), in seconds at the schedule's memory (512 MB): the
# verification units run at 1024 MB, so their 20 s count twice. Others: 1 s per run.
SCHEDULED_SECONDS = {"verify_chains": 40.0, "close_periods": 2.0}
CUSTOM_METRICS = 13  # the metrics of the contract, one dimension (service) each
_SECONDS_PER_MONTH = 30 * 86_400


def _rate_seconds(expression: str) -> float:
    from chalicelib.local.scheduler import rate_seconds

    return rate_seconds(expression)


def counts_from_template(template: dict[str, Any]) -> Counts:
    resources = template["Resources"].values()
    schedules = {}
    for res in resources:
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "Schedule":
                name = props["FunctionName"].rsplit("-", 1)[-1]
                runs = _SECONDS_PER_MONTH / _rate_seconds(event["Properties"]["Schedule"])
                schedules[name] = (runs, props["MemorySize"])
    return Counts(
        alarms=sum(r["Type"] == "AWS::CloudWatch::Alarm" for r in resources),
        dashboards=sum(r["Type"] == "AWS::CloudWatch::Dashboard" for r in resources),
        kms_keys=sum(r["Type"] == "AWS::KMS::Key" for r in resources),
        custom_metrics=CUSTOM_METRICS,
        tables=sum(r["Type"] == "AWS::DynamoDB::Table" for r in resources),
        schedules=dict(sorted(schedules.items())),
    )


def at_rest(counts: Counts, prices: dict[str, float] = PRICES) -> list[Line]:
    """Monthly cost with no traffic at all (storage of data excluded: see per million entries)."""
    runs = sum(r for r, _ in counts.schedules.values())
    gb_seconds = sum(r * mb / 1024 * SCHEDULED_SECONDS.get(n, 1.0) for n, (r, mb) in counts.schedules.items())
    return [
        Line("KMS keys (signing, data, write proof, witness)", counts.kms_keys, "key-month", prices["kms_key_month"]),
        Line("DynamoDB tables (on demand: storage + PITR per GB, below)", counts.tables, "table-month",
             prices["dynamodb_table_month"]),
        Line("CloudWatch alarms", counts.alarms, "alarm-month", prices["cloudwatch_alarm_month"]),
        Line("CloudWatch dashboard", counts.dashboards, "dashboard-month", prices["cloudwatch_dashboard_month"]),
        Line("Custom metrics (EMF)", counts.custom_metrics, "metric-month", prices["cloudwatch_custom_metric_month"]),
        Line("Scheduled Lambda invocations", runs, "invocation", prices["lambda_request_per_million"] / 1e6),
        Line("Scheduled Lambda compute", gb_seconds, "GB-second", prices["lambda_gb_second"]),
    ]


def per_million_entries(a: Assumptions = Assumptions(), prices: dict[str, float] = PRICES) -> list[Line]:
    """Cost of one million entries appended through the API (one entry per request)."""
    m = 1_000_000
    wru_per_put = math.ceil(a.entry_kb)  # no index copy: the tables have no LSI (decision 0027)
    checkpoints = m / a.checkpoint_every
    sealed = m * (1 + a.events_per_entry)  # records a ChainWriter seals: entries and events
    records = sealed + checkpoints  # stream records: entries, events, checkpoints
    writes = m * (wru_per_put * (1 + a.events_per_entry) + a.idempotency_writes_per_entry) + checkpoints
    archive_objects = records / a.entries_per_archive_object
    stream_invocations = records / a.stream_batch
    r = 1e-6
    return [
        Line("API Gateway REST requests", m, "request", prices["api_gateway_rest_per_million"] * r),
        Line("Lambda API requests", m, "invocation", prices["lambda_request_per_million"] * r),
        Line(
            "Lambda API compute", m * a.api_ms / 1000 * a.api_memory_mb / 1024, "GB-second", prices["lambda_gb_second"]
        ),
        Line(
            "DynamoDB writes (entry, event, idempotency, checkpoints)",
            writes,
            "WRU",
            prices["dynamodb_write_per_million"] * r,
        ),
        Line("DynamoDB reads", m * a.reads_per_entry, "RRU", prices["dynamodb_read_per_million"] * r),
        Line("DynamoDB stream reads (by Lambda)", records, "record", prices["dynamodb_stream_read_per_million"] * r),
        Line("Lambda stream invocations", stream_invocations, "invocation", prices["lambda_request_per_million"] * r),
        Line(
            "Lambda stream compute",
            stream_invocations * a.stream_ms / 1000 * a.stream_memory_mb / 1024,
            "GB-second",
            prices["lambda_gb_second"],
        ),
        Line("S3 archive PUTs", archive_objects, "PUT", prices["s3_put_per_thousand"] / 1000),
        Line(
            "KMS data keys for the archive",
            archive_objects * a.data_keys_per_archive_object,
            "request",
            prices["kms_symmetric_per_10k"] / 10_000,
        ),
        Line("KMS Sign (one per checkpoint)", checkpoints, "request", prices["kms_ecc_sign_per_10k"] / 10_000),
        Line(
            "KMS GenerateMac (write proof of each entry and event)",
            sealed,
            "request",
            prices["kms_hmac_per_10k"] / 10_000,
        ),
        Line(
            "KMS VerifyMac (stream verifier and signer, each entry and event)",
            sealed * a.mac_checks_per_record,
            "request",
            prices["kms_hmac_per_10k"] / 10_000,
        ),
        Line(
            "CloudWatch Logs ingestion",
            m * a.log_kb_per_request / 1024 / 1024,
            "GB",
            prices["cloudwatch_logs_ingest_gb"],
        ),
        Line("X-Ray traces (sampled)", m * a.xray_sampled, "trace", prices["xray_trace_per_million"] * r),
        Line(
            "Then each month: DynamoDB storage + PITR",
            a.stored_gb_per_million,
            "GB-month",
            prices["dynamodb_storage_gb_month"] + prices["dynamodb_pitr_gb_month"],
        ),
        Line(
            "Then each month: S3 archive storage (Standard, first year)",
            archive_objects * a.archive_object_kb / 1024 / 1024,
            "GB-month",
            prices["s3_standard_gb_month"],
        ),
    ]


def per_chain_month(a: Assumptions = Assumptions(), prices: dict[str, float] = PRICES) -> list[Line]:
    """What one chain costs per month, whatever its volume, beyond its entries: its units of
    scheduled work (decision 0028), the independent witness co-signing its newest checkpoint once
    per signing run with new entries, and the daily Z report (decision 0024). Worst case: new
    entries in every 5-minute run. Not counted: the hourly re-verification's reads, which grow with
    the chain (docs/scaling.md)."""
    runs = a.signing_runs_per_month
    invocations = runs * a.witness_invocations_per_run
    cosignatures_gb = runs * a.cosignature_kb / 1024 / 1024
    units = a.work_units_per_month
    return [
        Line("SQS FIFO requests (units of scheduled work: send, receive, delete)", units * a.sqs_requests_per_unit,
             "request", prices["sqs_fifo_per_million"] / 1e6),
        Line("Lambda worker invocations (one per unit)", units, "invocation",
             prices["lambda_request_per_million"] / 1e6),
        Line("Lambda worker compute (a unit with nothing to do)", units * a.worker_ms / 1000 * 0.5, "GB-second",
             prices["lambda_gb_second"]),
        Line("Lambda witness invocations (latest, add)", invocations, "invocation",
             prices["lambda_request_per_million"] / 1e6),
        Line("Lambda witness compute", invocations * a.witness_ms / 1000 * a.witness_memory_mb / 1024, "GB-second",
             prices["lambda_gb_second"]),
        Line("KMS Sign by the witness's key (one cosignature per run)", runs, "request",
             prices["kms_ecc_sign_per_10k"] / 10_000),
        Line("S3 witness view LIST", runs * a.witness_lists_per_run, "request", prices["s3_put_per_thousand"] / 1000),
        Line("S3 witness view GET", runs * a.witness_gets_per_run, "request", prices["s3_get_per_thousand"] / 1000),
        Line("S3 witness view PUT (one locked object per cosignature)", runs, "PUT",
             prices["s3_put_per_thousand"] / 1000),
        Line("DynamoDB reads by the signer (witness submission, Z report)", runs * a.signer_reads_per_run, "RRU",
             prices["dynamodb_read_per_million"] / 1e6),
        Line("DynamoDB writes (the cosignature kept in ops)", runs * math.ceil(a.cosignature_kb), "WRU",
             prices["dynamodb_write_per_million"] / 1e6),
        Line("SES Z report mails (one day closure a day per recipient)", 30 * a.z_report_recipients, "mail",
             prices["ses_per_thousand"] / 1000),
        Line("Then each month: cosignatures kept (S3 view, ops + PITR)", cosignatures_gb, "GB-month",
             prices["s3_standard_gb_month"] + prices["dynamodb_storage_gb_month"] + prices["dynamodb_pitr_gb_month"]),
    ]


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if value >= 1 else f"{value:.3g}"


def _price(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") if value else "0"


def markdown(lines: list[Line], *, monthly_rows: bool = False) -> str:
    rows = ["| item | quantity | unit | unit price (USD) | cost (USD) |", "|---|---:|---|---:|---:|"]
    once = [ln for ln in lines if not ln.item.startswith("Then each month")]
    later = [ln for ln in lines if ln.item.startswith("Then each month")]
    for ln in once:
        rows.append(f"| {ln.item} | {_number(ln.quantity)} | {ln.unit} | {_price(ln.unit_price)} | {ln.cost:,.2f} |")
    rows.append(f"| **total** | | | | **{sum(ln.cost for ln in once):,.2f}** |")
    for ln in later:
        rows.append(f"| {ln.item} | {_number(ln.quantity)} | {ln.unit} | {_price(ln.unit_price)} | {ln.cost:,.2f} |")
    return "\n".join(rows)


def report(counts: Counts) -> str:
    return (
        f"At rest, per month ({REGION}, list prices of {PRICES_DATE}):\n\n{markdown(at_rest(counts))}\n\n"
        f"Per million entries appended ({REGION}, list prices of {PRICES_DATE}):\n\n"
        f"{markdown(per_million_entries())}\n\n"
        f"Per chain, per month: units of scheduled work, the witness and the Z report, new entries in every "
        f"5-minute run "
        f"({REGION}, list prices of {PRICES_DATE}):\n\n{markdown(per_chain_month())}\n"
    )


def contract_counts() -> Counts:
    """Counts of the stack with every contract handler (16 functions, 3 streams, 4 schedules, 3 work
    queues)."""
    minutes = {"sign_checkpoints": 5, "close_periods": 60, "verify_chains": 60, "check_ticket_sla": 15}
    memory: dict[str, int] = {}
    return Counts(
        # chalicelib/alarms.py (runbook and informational), Lambda errors/throttles, iterator age of
        # the other 2 streams, 3 stream dead-letter queues, 3 work dead-letter queues and 3 oldest
        # units of the work queues (decision 0028), API 5xx.
        alarms=len(ALL_ALARMS) + 2 * 16 + 2 + 3 + 3 + 3 + 1,
        dashboards=1,
        kms_keys=4,  # signing, data, write proof, witness (chalicelib/resources.py)
        custom_metrics=CUSTOM_METRICS,
        # journal, events, checkpoints, tiles, keys, accounts, idempotency, ops, support
        tables=9,
        schedules={n: (_SECONDS_PER_MONTH / (m * 60), memory.get(n, 512)) for n, m in sorted(minutes.items())},
    )


def main(argv: list[str]) -> None:
    counts = counts_from_template(json.loads(open(argv[0]).read())) if argv else contract_counts()
    sys.stdout.write(report(counts))


if __name__ == "__main__":
    main(sys.argv[1:])
