"""A busy Saturday of 10,000 tenants: DynamoDB load per partition key, hot keys and cost (issue 13, item 5).

What it does, in one run:

1. **Sizes from the real code.** The items a sale writes are built by the real functions (the sale
   payload of ``domain/sales.build_sale`` sealed by ``domain/records.seal`` and stored by
   ``adapters/dynamodb_chain_store.to_item``; the receipt claim, the derived event
   (``services/events.derived_event``), the derivation cursor, the events head pointer, the
   archive line of ``services/archive.record_line``, a signed checkpoint item, the stream
   verifier's state item of ``adapters/ops_dynamodb``) and measured with DynamoDB's size rules
   (``bench_http_sales.item_size``).

2. **Calibration against the real services.** A small day (a few tenants, ~1,000 sales by default)
   runs through the *real* code on the in-memory adapters: ``LedgerService.record_sale`` with its
   ``ChainWriter``, inline checkpoints (``CheckpointService``), the journal stream's
   ``ChainStreamVerifier`` with the ``EventDeriver`` and the ``Archiver``, the events stream's
   verifier with the anomaly rules, the checkpoint-stream archiver and the 5-minute
   ``CheckpointSigner``. Thin counting wrappers turn every port call into the DynamoDB request the
   DynamoDB adapter would send and charge it to its table and partition key with AWS's rounding
   (writes: 1 KB units, the larger of before/after for UpdateItem, x2 in a transaction, no index
   copy: the journal and events tables have no LSI since decision 0027; reads: 4 KB units,
   consistent = full unit, Query pages of 1 MB; a time range, found by seq, costs its one-item
   search Queries and then its page). The same day is then run through the fast model below and
   the two are compared key by key.

3. **The Saturday, modelled.** Running the real services for ~4 million sales would take far
   longer than a benchmark may, so the day runs through a *faithful model of the per-sale key
   accesses* (``TenantDay``): the same requests, on the same keys, with the same item sizes and
   the same stream-state growth (the ``pending`` map of the verifier state item), checked against
   the real services in step 2. Tenants have 1-8 registers, a kind (shop, bakery, restaurant) with
   its opening hours and its sales-per-hour curve (peaks at lunch and late afternoon); each sale
   lands on a second of the day. Per partition key and per second the model adds up write and
   read units; the report gives the hottest key of each kind against DynamoDB's per-partition-key
   limits (1,000 WCU/s, 3,000 RCU/s), the total peak WCU/s and RCU/s, and the day's cost.

   Stream handlers: records of one chain inserted in the same second are one stream batch for
   that chain (``--stream-window`` 1 s); the events of a batch are processed by the events stream
   in the same second. Scheduled work: the 5-minute checkpoint signer visits every chain (each
   tenant at its own offset within the 5 minutes); the hourly full verifier and the hourly
   ``close_periods`` are charged per chain and hour from formulas over the chain's history
   (``--history-days``), because they read history the simulated day does not hold.

Two designs of the archive path are modelled, and by default the one this checkout has is used
(``detected_design``): the verifier's pending archive lines in a map inside its state item, or as
items of their own (``--pending-layout map|items``); one archive manifest rewritten at every flush,
or immutable pages plus a constant-size index (``--manifest full|paged``). The calibration also
compares the S3 and KMS calls of the real archive code with the model's, and says when they differ.

Latencies are AWS-like constants (``LATENCY_MS``, stated in docs/scaling.md), used for Lambda
durations and per-chain serialisation, never slept. Prices are ``infra/costs.PRICES``
(eu-west-1 on-demand list prices of ``infra/costs.PRICES_DATE``) plus the S3/KMS unit prices below.

``python -m bench.bench_saturday [--tenants 10000] [--scale 1.0] [--seed 7] [--history-days 365]
[--calibration-tenants 3] [--no-calibration] [--pending-layout auto] [--manifest auto]``;
``python -m bench`` runs it at ``--scale 0.1`` (1,000 tenants, to keep the whole bench run short)
and says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.bench_http_sales import item_size
from bench.common import report

# ---- limits, constants of the code, prices ---------------------------------------------------------
WCU_PER_KEY = 1000  # per partition key and second (docs/scaling.md cites the AWS page)
RCU_PER_KEY = 3000
API_METHOD_RATE, API_METHOD_BURST = 100, 200  # infra/stacks/functions.py MethodSettings, per method
PAGE_BYTES = 1024 * 1024  # a Query reads at most 1 MB per page
NEXT_DUE_PAGE = 8  # services.ledger.NEXT_DUE_PAGE: the Limit of close_chain's look for the next due period
SEGMENT_ENTRIES = 100  # services/archive.SEGMENT_ENTRIES
SEGMENT_WINDOW = 15 * 60  # services/archive.SEGMENT_WINDOW
DERIVE_CHUNK = 98  # services/events.DERIVE_CHUNK
COMMIT_CHUNK = 50  # ChainStreamVerifier(commit_chunk=50)
CHECKPOINT_EVERY = 100  # Settings.checkpoint_every default
DAY = 86_400
TICK = 300  # sign_checkpoints: rate(5 minutes)
AUTHORIZER_TTL = 300  # Chalice's authorizer result cache default (seconds)
ZONE = ZoneInfo("Europe/Brussels")
SATURDAY = date(2026, 12, 12)
STREAM_ARN = {t: f"arn:aws:dynamodb:eu-west-1:123456789012:table/scelle-prod-{t}/stream/2026-01-05T08:00:00.000"
              for t in ("journal", "events", "checkpoints")}
KMS_KEY_ID = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# AWS-like latencies (ms) of one request, used for Lambda durations and chain serialisation only.
LATENCY_MS = {
    "GetItem": 4.0, "BatchGetItem": 5.0, "Query": 6.0, "PutItem": 6.0, "UpdateItem": 6.0,
    "TransactWriteItems": 12.0, "S3 PUT": 25.0, "S3 GET": 15.0, "S3 HEAD": 10.0, "S3 LIST": 20.0,
    "KMS Sign": 12.0, "KMS GenerateDataKey": 6.0, "KMS Decrypt": 6.0,
    "SQS SendMessageBatch": 10.0, "SQS SendMessage": 10.0,
}
# infra/stacks/functions.py MEMORY (DEFAULT_MEMORY 512 for the others)
LAMBDA_MB = {"api": 1024, "authorizer": 512, "stream": 512, "schedule": 512, "verify": 1024, "close": 512,
             "dispatch": 512}
# Unit prices not in infra/costs.PRICES (same date, eu-west-1): S3 LIST is billed like PUT, HEAD like GET;
# KMS GenerateDataKey/Decrypt are symmetric requests, Sign an ECC asymmetric request.
EXTRA_PRICES = {"s3_list_per_thousand": 0.005, "s3_head_per_thousand": 0.0004}


def wcu(size: int) -> int:
    """Write units of one item write (1 KB units, at least 1)."""
    return max(1, -(-size // 1024))


def rcu(size: int) -> int:
    """Strongly consistent read units of one item (4 KB units, at least 1, also for a missing item)."""
    return max(1, -(-size // 4096))


def query_rcu(total_bytes: int, *, consistent: bool = True) -> float:
    """Read units of a Query (or a chain scan) over ``total_bytes`` of items, paged at 1 MB."""
    if total_bytes <= 0:
        return 1.0 if consistent else 0.5
    pages, rest = divmod(total_bytes, PAGE_BYTES)
    units = pages * (PAGE_BYTES // 4096) + (-(-rest // 4096) if rest else 0)
    return float(units if consistent else units / 2)


def prices() -> dict[str, float]:
    from infra.costs import PRICES

    return {**PRICES, **EXTRA_PRICES}


# ---- sizes measured from the real code ---------------------------------------------------------------
def tenant_id_of(n: int) -> str:
    return f"t{n:011d}"


def seller_of(n: int, r: int) -> str:
    return f"u{n:07d}r{r}"


def session_of(n: int, r: int) -> str:
    return f"s{n:07d}r{r}"


def receipt_of(n: int, r: int, k: int) -> str:
    return f"r{n:07d}-{r}-{k:07d}"


def sale_request(register: str, receipt: str, at: datetime) -> dict:
    """The receipt bench_http_sales sends: two lines, a card payment."""
    from tests.support.bodies import till_receipt

    return till_receipt(register, receipt, at)


def state_item(chain_key: str, *, table: str, seq: int, hash_: str, stream_seq: str | None, stream_arn: str | None,
               pending: dict[int, str] | None, pending_since: str | None, segments: int, archived_through: int,
               archived_hash: str, lease_until: str | None) -> dict:
    """The stream verifier's state item of one chain as adapters/ops_dynamodb stores it (DynamoDB JSON)."""
    from boto3.dynamodb.types import TypeSerializer

    plain: dict[str, Any] = {"pk": f"CHAIN#{chain_key}", "sk": "state"}
    if stream_seq is not None:
        plain.update({"table": table, "seq": seq, "hash": hash_, "stream_seq": stream_seq,
                      "stream_arn": stream_arn or ""})
    if pending is not None:
        plain["pending"] = {str(k): v for k, v in pending.items()}
    if pending_since is not None:
        plain["pending_since"] = pending_since
    if segments:
        plain.update({"archived_through": archived_through, "archived_hash": archived_hash, "segments": segments})
    if lease_until is not None:
        plain["lease_until"] = lease_until
    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in plain.items()}


def state_size_of(state) -> int:
    """DynamoDB size of a ``ChainState`` (adapters/ops_dynamodb) as its stored item."""
    return item_size(state_item(state.chain_key, table=state.table, seq=state.seq, hash_=state.hash,
                                stream_seq=state.stream_seq, stream_arn=state.stream_arn, pending=state.pending,
                                pending_since=state.pending_since, segments=state.segments,
                                archived_through=state.archived_through, archived_hash=state.archived_hash,
                                lease_until=state.lease_until))


def detected_design() -> tuple[str, str]:
    """(pending layout, manifest format) of the code in this checkout: the verifier's pending archive
    lines in a map inside the state item ("map", decision 0008 as first built) or as items of their
    own ("items", ``PENDING#<chain>``); one manifest listing every segment rewritten at each flush
    ("full", decision 0007) or immutable pages plus a constant-size index ("paged", decision 0017)."""
    from chalicelib.adapters import ops_dynamodb
    from chalicelib.services import archive

    return ("items" if hasattr(ops_dynamodb, "pending_pk") else "map",
            "paged" if hasattr(archive, "PAGE_SEGMENTS") else "full")


def pending_item_size(chain_key: str, seq: int, line: str | int) -> int:
    """A pending archive line as an item of its own (``PENDING#<chain>`` / seq, 20 digits)."""
    length = line if isinstance(line, int) else len(line.encode("utf-8"))
    return item_size({"pk": {"S": f"PENDING#{chain_key}"}, "sk": {"S": f"{seq:020d}"}, "line": {"S": "x" * length}})


def checkpoint_item(cp, frontier: list[str]) -> dict:
    """The item adapters/checkpoint_store.DynamoDBCheckpointStore.put writes."""
    return {"pk": {"S": cp.chain_key}, "sk": {"N": str(cp.size)}, "text": {"S": cp.to_text()},
            "frontier": {"L": [{"S": h} for h in frontier]}}


def key_item_size(key) -> int:
    item = {"pk": {"S": "KEYS"}, "sk": {"S": key.key_id}, "not_before": {"S": key.not_before},
            "public_key_pem": {"S": key.public_key_pem}}
    if key.not_after:
        item["not_after"] = {"S": key.not_after}
    return item_size(item)


@dataclass(frozen=True)
class Sizes:
    """Item sizes (bytes, DynamoDB rules) of what the write path stores, from the real code."""

    sale: int  # journal item of a sale (to_item)
    sale_line: int  # its archive line (record_line), as held in the verifier's pending map
    receipt_claim: int  # ops RECEIPT#... claim
    event: int  # events item of its derived event (with ttl)
    event_line: int
    cursor: int  # ops DERIVED#... cursor claim
    pointer: int  # ops HEAD#... events chain head pointer
    state_base: int  # verifier state item without pending entries (stream attributes set)
    state_archived: int  # + archived_through/archived_hash/segments
    state_pending_attr: int  # "pending" name + empty map
    state_since: int  # pending_since attribute
    state_lease: int  # lease_until attribute
    checkpoint_base: int  # checkpoint item without frontier hashes (size digits included)
    frontier_hash: int  # per frontier hash in the L attribute
    keys_item: int  # one published key (ops KEYS)
    closure: int  # journal item of a day closure
    closure_claim: int
    journal_entry: int  # a 3-line journal entry (journal chain)
    opkey_claim: int
    chain_dir_item: int  # ops CHAINS item of one chain
    segment_info: int  # one segment's entry in a chain's archive manifest (JSON)
    access_items: tuple[int, int, int]  # user, membership, tenant items (estimated, see docs)

    def pending_entry(self, seq: int, line: int) -> int:
        """Bytes one pending entry adds to the state item's map (1 + name + value)."""
        return 1 + len(str(seq)) + line


def measure_sizes() -> Sizes:
    from chalicelib.adapters.dynamodb_chain_store import claim_item, to_item
    from chalicelib.domain.checkpoint import Checkpoint
    from chalicelib.domain.claims import Claim
    from chalicelib.domain.entries import Actor
    from chalicelib.domain.journal import build_journal_batch
    from chalicelib.domain.records import chain_key, seal
    from chalicelib.domain.sales import build_sale
    from chalicelib.services.archive import record_line
    from chalicelib.services.events import cursor_key, derived_event
    from chalicelib.services.sealing import head_pointer_key

    t = tenant_id_of(1)
    chain = "prod.sales.R1"
    now = datetime(2026, 12, 12, 15, 0, tzinfo=UTC)
    payload = build_sale(sale_request("R1", receipt_of(1, 1, 1234), now), country="BE", time_zone="Europe/Brussels",
                         cutoff=datetime.min.time().replace(hour=4), seller=Actor(seller_of(1, 1), "Seller 1"),
                         now=now)
    sale = seal(t, chain, 12_345, "sale", now, False, payload, "a" * 64)
    fingerprint = "f" * 64
    receipt = Claim(f"RECEIPT#{t}#{chain}", receipt_of(1, 1, 1234), {"request": fingerprint, "seq": sale.seq,
                                                                      "hash": sale.hash})
    event = seal(t, "events", 34_567, "event", now, False, derived_event(sale), "b" * 64)
    cursor = Claim(*cursor_key(sale.chain_key), {"seq": sale.seq, "hash": sale.hash}, expect_seq=sale.seq - 1)
    pointer = Claim(*head_pointer_key(event.chain_key), {"seq": event.seq, "hash": event.hash,
                                                          "recorded_at": event.recorded_at}, expect_seq=event.seq - 1)
    since = "2026-12-12T15:00:00.000000Z"
    common = dict(table="journal", seq=12_345, hash_="c" * 64, stream_seq="4" * 21, stream_arn=STREAM_ARN["journal"],
                  segments=0, archived_through=0, archived_hash="d" * 64, lease_until=None)
    key = chain_key(t, chain)
    base = item_size(state_item(key, pending=None, pending_since=None, **common))
    with_pending = item_size(state_item(key, pending={}, pending_since=None, **common))
    with_since = item_size(state_item(key, pending={}, pending_since=since, **common))
    archived = item_size(state_item(key, pending=None, pending_since=None, **{**common, "segments": 12,
                                                                                 "archived_through": 12_300}))
    leased = item_size(state_item(key, pending=None, pending_since=None, **{**common, "lease_until": since}))
    cp = Checkpoint(key, 12_345, "e" * 64, since, KMS_KEY_ID, signature=b"\x30" * 71)
    cp_base = item_size(checkpoint_item(cp, []))
    cp_one = item_size(checkpoint_item(cp, ["f" * 64]))
    cp_size_parts = (5 + 1) // 2 + 1 + 5  # the size 12345 in sk (a number) and in the text
    pem = "-----BEGIN PUBLIC KEY-----\n" + "A" * 124 + "\n-----END PUBLIC KEY-----\n"
    from chalicelib.domain.checkpoint import PublicKeyInfo

    keys_item = key_item_size(PublicKeyInfo(KMS_KEY_ID, since, None, pem))
    # A day closure: its payload sealed the way the ledger seals it (best effort: the closure
    # rules need a populated accumulator; fall back to the sale size plus its totals).
    closure_size = _closure_size(t, chain, sale, now)
    closure_claim = Claim(f"CLOSURES#{t}#{chain}", "day#2026-12-11", {"seq": 12_346, "hash": "9" * 64})
    journal_payloads = build_journal_batch([_journal_entry(i) for i in range(10)], country="FR",
                                           today=date(2026, 12, 12), recorded_by=Actor("u-acc", "Accountant"))
    journal_items = [item_size(to_item(seal(t, "prod.journal", 5_000 + i, "journal", now, False, p, "a" * 64)))
                     for i, p in enumerate(journal_payloads)]
    opkey = Claim(f"OPKEY#{t}#prod.journal", "k" * 36, {"request": fingerprint, "seq": 5_000, "hash": "9" * 64,
                                                         "count": 10})
    chain_dir = item_size({"pk": {"S": "CHAINS"}, "sk": {"S": f"{t}#{chain}"}, "tenant_id": {"S": t},
                           "chain": {"S": chain}})
    from dataclasses import asdict

    from chalicelib.services.archive import SegmentInfo, segment_key

    info = SegmentInfo(segment_key(key, 12_301), 12_301, 12_400, 100, "a" * 64, "b" * 64, "c" * 64,
                       "2026-12-12T15:00:00.000000Z")
    segment_info = len(json.dumps(asdict(info), sort_keys=True, separators=(",", ":"))) + 1
    return Sizes(
        sale=item_size(to_item(sale)), sale_line=len(record_line(sale).encode()),
        receipt_claim=item_size(claim_item(receipt)),
        event=item_size(to_item(event, ttl=1_800_000_000)), event_line=len(record_line(event).encode()),
        cursor=item_size(claim_item(cursor)), pointer=item_size(claim_item(pointer)),
        state_base=base, state_archived=archived - base, state_pending_attr=with_pending - base,
        state_since=with_since - with_pending, state_lease=leased - base,
        checkpoint_base=cp_base - cp_size_parts, frontier_hash=cp_one - cp_base,
        keys_item=keys_item, closure=closure_size, segment_info=segment_info,
        closure_claim=item_size(claim_item(closure_claim)),
        journal_entry=max(journal_items), opkey_claim=item_size(claim_item(opkey)), chain_dir_item=chain_dir,
        # user ~0.5 KB, membership ~0.3 KB, tenant ~1.2 KB (address, settings, opening hours): each
        # under 4 KB, so 1 read unit each whatever its exact size (adapters/accounts_dynamodb).
        access_items=(500, 300, 1_200),
    )


def _journal_entry(i: int) -> dict:
    return {
        "journal_code": "VT", "journal_label": "Ventes", "piece_ref": f"FA-2026-{i:04d}", "piece_date": "2026-12-11",
        "label": "Facture Dupont SARL",
        "lines": [
            {"account": "411000", "aux_account": "DUPONT", "aux_label": "Dupont SARL", "debit": "120.00"},
            {"account": "706000", "account_label": "Prestations de services", "credit": "100.00", "vat_rate": "20"},
            {"account": "445710", "credit": "20.00"},
        ],
    }


def _closure_size(t: str, chain: str, sale, now: datetime) -> int:
    from chalicelib.adapters.dynamodb_chain_store import to_item
    from chalicelib.domain import closures as rules
    from chalicelib.domain.entries import Actor
    from chalicelib.domain.records import seal

    try:
        acc = rules.ClosureAccumulator.following(None, "day", date(2026, 12, 11), time_zone="Europe/Brussels",
                                                 cutoff=datetime.min.time().replace(hour=4))
        payload = rules.closure_payload(acc, merkle_root="e" * 64, merkle_tree_size=12_345,
                                        closed_by=Actor("system", "scheduled closure"), now=now)
        return item_size(to_item(seal(t, chain, 12_346, "closure", now, False, payload, sale.hash)))
    except Exception:
        return item_size(to_item(sale)) + 400


def checkpoint_size(sizes: Sizes, size: int) -> int:
    digits = len(str(size))
    return sizes.checkpoint_base + (digits + 1) // 2 + 1 + digits + sizes.frontier_hash * bin(size).count("1")


# ---- the plan: tenants, registers, sales per second --------------------------------------------------
KINDS = {
    # kind: (share, opening windows [(open, close) local hours], peaks [(hour, sigma, weight)], base, sales factor)
    "shop": (0.60, [(9.5, 19.0)], [(12.5, 1.0, 0.9), (16.5, 1.2, 1.3)], 0.40, 1.0),
    "bakery": (0.25, [(7.0, 19.0)], [(8.5, 1.0, 1.0), (12.0, 0.8, 1.1), (17.0, 1.0, 0.7)], 0.30, 1.5),
    "restaurant": (0.15, [(11.5, 14.5), (18.0, 21.5)], [(12.75, 0.6, 1.2), (20.0, 0.9, 1.0)], 0.20, 0.7),
}
REGISTER_WEIGHTS = {1: 0.34, 2: 0.26, 3: 0.15, 4: 0.10, 5: 0.06, 6: 0.04, 7: 0.03, 8: 0.02}


@dataclass
class TenantPlan:
    n: int  # tenant number (its id is tenant_id_of(n))
    kind: str
    registers: list[list[int]]  # per register: sorted seconds (local time of the day) of its sales
    tick_offset: int  # its chains are visited by the 5-minute signer at offset + 300 k


def _minute_weights(kind: str, jitter: float) -> list[float]:
    _, windows, peaks, base, _ = KINDS[kind]
    weights = []
    for minute in range(1440):
        h = minute / 60
        if not any(o + jitter <= h < c + jitter for o, c in windows):
            weights.append(0.0)
            continue
        weights.append(base + sum(w * math.exp(-0.5 * ((h - p) / s) ** 2) for p, s, w in peaks))
    return weights


def make_plan(tenants: int, *, seed: int, first: int = 1, median_sales: float = 120.0) -> list[TenantPlan]:
    """``tenants`` tenants with registers, opening hours and the seconds of their Saturday's sales."""
    rnd = random.Random(seed)
    kinds = list(KINDS)
    shares = [KINDS[k][0] for k in kinds]
    counts = list(REGISTER_WEIGHTS)
    cum_cache: dict[tuple[str, float], tuple[list[float], list[int]]] = {}
    plan = []
    for n in range(first, first + tenants):
        kind = rnd.choices(kinds, shares)[0]
        jitter = rnd.choice((-0.5, 0.0, 0.0, 0.5))
        if (kind, jitter) not in cum_cache:
            weights = _minute_weights(kind, jitter)
            minutes = [m for m, w in enumerate(weights) if w > 0]
            cum, total = [], 0.0
            for m in minutes:
                total += weights[m]
                cum.append(total)
            cum_cache[(kind, jitter)] = (cum, minutes)
        cum, minutes = cum_cache[(kind, jitter)]
        registers = []
        for _ in range(rnd.choices(counts, list(REGISTER_WEIGHTS.values()))[0]):
            daily = min(1500, max(10, int(rnd.lognormvariate(math.log(median_sales), 0.7) * KINDS[kind][4])))
            picks = rnd.choices(minutes, cum_weights=cum, k=daily)
            registers.append(sorted(m * 60 + rnd.randrange(60) for m in picks))
        plan.append(TenantPlan(n, kind, registers, rnd.randrange(TICK)))
    return plan


# ---- accounting --------------------------------------------------------------------------------------
@dataclass
class Peak:
    units: float = 0.0
    key: str = ""
    second: int = 0


@dataclass
class Meter:
    """What a run consumed: per-second totals, per-key-kind peaks, request counts, S3/KMS calls."""

    w: list[float] = field(default_factory=lambda: [0.0] * DAY)
    r: list[float] = field(default_factory=lambda: [0.0] * DAY)
    keys_r: list[float] = field(default_factory=lambda: [0.0] * DAY)  # ops KEYS (global)
    chains_w: list[float] = field(default_factory=lambda: [0.0] * DAY)  # ops CHAINS (global)
    sales_per_second: list[int] = field(default_factory=lambda: [0] * DAY)
    active_journal: list[int] = field(default_factory=lambda: [0] * DAY)  # register chains in a stream batch
    active_events: list[int] = field(default_factory=lambda: [0] * DAY)
    hourly_w: list[float] = field(default_factory=lambda: [0.0] * 24)  # hourly jobs, spread over their hour
    hourly_r: list[float] = field(default_factory=lambda: [0.0] * 24)
    hourly_keys_r: list[float] = field(default_factory=lambda: [0.0] * 24)
    wcu_by: Counter = field(default_factory=Counter)  # part of the system -> write units
    rcu_by: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)  # (part, operation) -> count
    calls: Counter = field(default_factory=Counter)  # S3/KMS operations of the sales and what follows
    calls_hourly: Counter = field(default_factory=Counter)  # S3/KMS operations of the hourly jobs
    verify_bytes: list[float] = field(default_factory=lambda: [0.0] * 24)  # read by each hour's verify_chain units
    close_bytes: list[float] = field(default_factory=lambda: [0.0] * 24)  # read by each hour's close_chain units
    units: Counter = field(default_factory=Counter)  # job -> units worked (one Lambda invocation each)
    sqs: Counter = field(default_factory=Counter)  # (job, SQS action) -> FIFO requests
    longest: dict[str, tuple[float, str]] = field(default_factory=dict)  # worker -> (seconds, which unit)
    full_passes: int = 0  # weekly full verifications that fell on this day
    continuations: int = 0  # verification slices after the first
    dispatch: dict = field(default_factory=dict)  # job -> UnitCost of one run of its schedule
    peaks_w: dict[str, Peak] = field(default_factory=dict)  # key kind -> hottest key's peak WCU/s
    peaks_r: dict[str, Peak] = field(default_factory=dict)
    key_totals: dict[tuple[str, str], list[float]] | None = None  # (table, pk) -> [wcu, rcu] (calibration)
    sales: int = 0
    tenants: int = 0
    registers: int = 0
    checkpoints: int = 0
    segments: int = 0
    authorizer_windows: int = 0
    stored_bytes: Counter = field(default_factory=Counter)  # what the day adds (table -> bytes)
    archive_bytes: int = 0
    manifest_bytes: float = 0.0  # manifest versions written (kept under Object Lock)


# ---- the model of one tenant's day -------------------------------------------------------------------
SIGNER_OPS = ("GetItem", "Query", "PutItem", "UpdateItem", "BatchWriteItem")
SIGNER_CALLS = ("S3 PUT", "S3 GET", "S3 HEAD", "S3 LIST", "KMS Sign", "KMS GenerateDataKey", "KMS Decrypt")


class Chain:
    """One chain as the model tracks it: head, checkpoint, the verifier's pending map, the archive."""

    __slots__ = (
        "archived",
        "cp",
        "cp_log",
        "cps",
        "head_r",
        "item",
        "k_cp",
        "k_item",
        "k_pend",
        "k_state",
        "line",
        "manifest",
        "manifest_writes",
        "pattr",
        "pbytes",
        "pend",
        "segment_bytes",
        "segments",
        "seq",
        "start",
        "state",
        "tail",
    )

    def __init__(self, item: int, line: int, seq: int, k_item: int, k_state: int, k_cp: int, k_pend: int, *,
                 fresh: bool):
        self.item, self.line = item, line
        self.head_r = rcu(item)
        self.seq = seq
        self.start = seq  # the head at the start of the day (its history)
        self.cp = seq  # size of the latest signed checkpoint
        self.cp_log: list[tuple[int, int]] = []  # (second, size) of today's checkpoints, in order
        self.pend: deque = deque()  # (second, entry bytes) of entries waiting for their segment
        self.pbytes = 0
        self.pattr = not fresh  # the "pending" map attribute exists
        self.archived = not fresh and seq > 0
        self.manifest = not fresh and seq > 0
        self.state = not fresh  # the state item exists
        self.k_item, self.k_state, self.k_cp, self.k_pend = k_item, k_state, k_cp, k_pend
        self.tail = 0 if fresh else SEGMENT_ENTRIES // 2  # segments not yet in a manifest page (paged)
        self.cps = 0  # checkpoints signed today
        self.segments = 0  # segments written today
        self.segment_bytes = 0  # their plaintext bytes
        self.manifest_writes = 0  # flushes today (each writes a new manifest version)


class Units:
    """Per-request units that do not depend on the state, computed once from the sizes."""

    def __init__(self, s: Sizes, idempotency_keys: bool, pending_layout: str = "map", manifest: str = "full") -> None:
        self.items = pending_layout == "items"
        self.paged = manifest == "paged"
        self.seal_w = 2 * wcu(s.sale)  # transaction x2; no index copy (no LSI: decision 0027)
        self.claim_w = 2 * wcu(s.receipt_claim) + (2 * wcu(s.opkey_claim) if idempotency_keys else 0)
        self.event_w = 2 * wcu(s.event)
        self.cursor_w = 2 * wcu(s.cursor)
        self.pointer_w = 2 * wcu(s.pointer)
        self.keys_r = rcu(s.keys_item)
        self.stored_sale = s.sale + 100  # the item, +100 B overhead (no index copy: decision 0027)
        self.stored_claim = s.receipt_claim + 100
        self.stored_event = s.event + 100
        # pending entry bytes by number of digits of the seq: 1 + the seq as the map key + the line,
        # whose own "seq" was measured with 5 digits (12345 for the sale, 34567 for the event)
        self.sale_entry = [1 + d + s.sale_line - 5 + d for d in range(21)]
        self.event_entry = [1 + d + s.event_line - 5 + d for d in range(21)]
        if self.items:  # items of their own: PENDING#<chain key> (39 / 32 characters here) / 20 digits
            register = "TENANT#t00000000001#CHAIN#prod.sales.R1"
            events = "TENANT#t00000000001#CHAIN#events"
            self.sale_entry = [pending_item_size(register, 1, s.sale_line - 5 + d) for d in range(21)]
            self.event_entry = [pending_item_size(events, 1, s.event_line - 5 + d) for d in range(21)]
        self.state_fixed = s.state_base
        self.state_archived = s.state_archived
        self.state_pattr = s.state_pending_attr
        self.state_since = s.state_since
        self.state_lease = s.state_lease


class TenantDay:
    """The model of one tenant's day: every request of the sale path, the stream handlers and the
    5-minute signer, charged to (table, partition key) per second with AWS's rounding."""

    ACC, EV, EV_HEAD, EV_STATE, EV_CP, EV_PEND = range(6)
    FIXED = 6
    PER_REGISTER = 8  # journal, RECEIPT claims, DERIVED cursor, verifier state, checkpoints, USER, SESSION, PENDING

    def __init__(self, plan: TenantPlan, meter: Meter, sizes: Sizes, *, history_days: int, weekday_ratio: float,
                 containers: int, rnd: random.Random, fresh: bool = False, idempotency_keys: bool = False,
                 units: Units | None = None):
        self.plan, self.m, self.s = plan, meter, sizes
        self.u = units or Units(sizes, idempotency_keys)
        self.items = self.u.items
        self.fresh = fresh
        self.rnd = rnd
        self.containers = containers
        regs = plan.registers
        self.nkeys = n = self.FIXED + self.PER_REGISTER * len(regs)
        self.cs = [-1] * n
        self.cw = [0.0] * n
        self.cr = [0.0] * n
        self.mw = [0.0] * n
        self.mws = [0] * n
        self.mr = [0.0] * n
        self.mrs = [0] * n
        self.tw = [0.0] * n
        self.tr = [0.0] * n
        self.charge = self._charger()
        hist = [0 if fresh else int(len(sales) * weekday_ratio * history_days) for sales in regs]
        self.regs = [Chain(sizes.sale, sizes.sale_line, hist[i], self._rk(i, 0), self._rk(i, 3), self._rk(i, 4),
                           self._rk(i, 7), fresh=fresh) for i in range(len(regs))]
        ev_hist = 0 if fresh else int(sum(len(s) for s in regs) * weekday_ratio * history_days)
        self.ev = Chain(sizes.event, sizes.event_line, ev_hist, self.EV, self.EV_STATE, self.EV_CP, self.EV_PEND,
                        fresh=fresh)
        self.ev_head_cached = not fresh  # the events writer's head cache (warm Lambda)
        self.seen_containers = [0] * len(regs)  # bit mask of API containers that know the chain
        self.sec = 0
        self.sales_at_hour = [[0] * 24 for _ in regs]
        self.pending_events = 0
        self.req = meter.requests

    def _rk(self, i: int, j: int) -> int:
        return self.FIXED + self.PER_REGISTER * i + j

    # -- per-key, per-second accounting --------------------------------------------------------------
    def _charger(self):
        cs, cw, cr, tw, tr = self.cs, self.cw, self.cr, self.tw, self.tr
        mw, mws, mr, mrs = self.mw, self.mws, self.mr, self.mrs
        W, R = self.m.w, self.m.r
        me = self

        def charge(k: int, w: float, r: float) -> None:
            """Add w write and r read units to key k in the current second."""
            sec = me.sec
            last = cs[k]
            if last != sec:
                if last >= 0:
                    if cw[k] > mw[k]:
                        mw[k] = cw[k]
                        mws[k] = last
                    if cr[k] > mr[k]:
                        mr[k] = cr[k]
                        mrs[k] = last
                cs[k] = sec
                cw[k] = w
                cr[k] = r
            else:
                cw[k] += w
                cr[k] += r
            tw[k] += w
            tr[k] += r
            W[sec] += w
            R[sec] += r

        return charge

    def _close_all(self) -> None:
        for k in range(self.nkeys):
            if self.cs[k] >= 0:
                if self.cw[k] > self.mw[k]:
                    self.mw[k], self.mws[k] = self.cw[k], self.cs[k]
                if self.cr[k] > self.mr[k]:
                    self.mr[k], self.mrs[k] = self.cr[k], self.cs[k]

    def state_size(self, ch: Chain, lease: bool = False) -> int:
        if not ch.state:
            return 0
        u = self.u
        size = u.state_fixed
        if ch.archived:
            size += u.state_archived
        if ch.pattr and not u.items:
            size += u.state_pattr + ch.pbytes
        if ch.pend:
            size += u.state_since
        return size + u.state_lease if lease else size

    # -- the request path -----------------------------------------------------------------------------
    def sale(self, i: int) -> None:
        u, ch, m, sec, req = self.u, self.regs[i], self.m, self.sec, self.req
        charge = self.charge
        req["api", "BatchGetItem"] += 1
        req["api", "TransactWriteItems"] += 1
        # access check: user, membership + tenant (one partition), session (missing: still 1 unit)
        base = 6 + 8 * i
        charge(base + 5, 0, 1)
        charge(0, 0, 2)
        charge(base + 6, 0, 1)
        bit = 1 << int(self.rnd.random() * self.containers)
        head_read = 0
        if not self.seen_containers[i] & bit:
            # a container's first sale on this chain: DynamoDBChainDirectory.register (its _known
            # cache) and ChainWriter's head cache, both per process
            self.seen_containers[i] |= bit
            m.chains_w[sec] += 1
            m.w[sec] += 1
            m.wcu_by["api: chain directory + head"] += 1
            m.rcu_by["api: chain directory + head"] += 1
            req["api", "PutItem"] += 1
            req["api", "Query"] += 1
            head_read = 1
        ch.seq += 1
        charge(base, u.seal_w, head_read)
        charge(base + 1, u.claim_w, 0)
        m.wcu_by["api: seal (entry + claim)"] += u.seal_w + u.claim_w
        m.rcu_by["api: access check"] += 4
        self.sales_at_hour[i][sec // 3600] += 1
        if ch.seq % CHECKPOINT_EVERY == 0:
            self.checkpoint(ch, "api: inline checkpoint", "api")

    def checkpoint(self, ch: Chain, part: str, proc: str) -> None:
        """CheckpointService.checkpoint: head, latest, the entries since, keys, Sign, put."""
        s, m, u, sec = self.s, self.m, self.u, self.sec
        cp_read = 1  # a checkpoint item is under 4 KB (a frontier of at most ~30 hashes)
        reads = ch.head_r + cp_read
        self.req[proc, "Query"] += 2
        if ch.cp >= ch.seq:
            self.charge(ch.k_item, 0, ch.head_r)
            self.charge(ch.k_cp, 0, cp_read)
            m.rcu_by[part] += reads
            return
        scan = query_rcu((ch.seq - ch.cp) * ch.item)
        size = checkpoint_size(s, ch.seq)
        self.charge(ch.k_item, 0, ch.head_r + scan)
        self.charge(ch.k_cp, wcu(size), cp_read)
        m.keys_r[sec] += u.keys_r
        m.r[sec] += u.keys_r
        self.req[proc, "Query"] += 2
        self.req[proc, "PutItem"] += 1
        m.calls["KMS Sign"] += 1
        m.rcu_by[part] += reads + scan + u.keys_r
        m.wcu_by[part] += wcu(size)
        m.stored_bytes["checkpoints"] += size + 100
        ch.cp = ch.seq
        ch.cps += 1
        ch.cp_log.append((sec, ch.seq))
        m.checkpoints += 1
        # the checkpoints stream: CheckpointStreamArchiver reads the keys, archives the checkpoint
        m.keys_r[sec] += u.keys_r
        m.r[sec] += u.keys_r
        m.rcu_by["stream: checkpoint archiver"] += u.keys_r
        self.req["stream", "Query"] += 1
        m.calls["S3 PUT"] += 1
        m.calls["KMS GenerateDataKey"] += 1
        m.archive_bytes += 700

    # -- the stream handlers ---------------------------------------------------------------------------
    def _state_read_advance(self, ch: Chain, first_seq: int, k: int, entry_sizes: list[int], part: str,
                            proc: str) -> None:
        """ChainStreamVerifier: the chain's state read once per batch (GetItem), then commit ->
        ops.advance_head, one UpdateItem per 50 entries, each charged on the larger item."""
        m, sec = self.m, self.sec
        self.req[proc, "GetItem"] += 1
        if self.items:
            self._state_read_advance_items(ch, first_seq, k, entry_sizes, part, proc)
            return
        if k == 1 and ch.state and ch.pattr:  # the common case, inlined: one entry on an existing item
            u = self.u
            before = u.state_fixed + ch.pbytes + u.state_pattr
            if ch.archived:
                before += u.state_archived
            if ch.pend:
                before += u.state_since
            entry = entry_sizes[len(str(first_seq))]
            after = before + entry + (0 if ch.pend else u.state_since)
            ch.pend.append((sec, entry))
            ch.pbytes += entry
            w = -(-after // 1024)
            r = -(-before // 4096)
            self.req[proc, "UpdateItem"] += 1
            self.charge(ch.k_state, w, r)
            m.wcu_by[part] += w
            m.rcu_by[part] += r
            return
        r = rcu(self.state_size(ch))
        if not ch.state:  # a chain the stream verifier never saw: it registers it
            m.chains_w[sec] += 1
            m.w[sec] += 1
            m.wcu_by[part] += 1
            self.req[proc, "PutItem"] += 1
        w = 0
        done = 0
        pend = ch.pend
        while done < k:
            n = min(COMMIT_CHUNK, k - done)
            before = self.state_size(ch)
            ch.state = True
            ch.pattr = True
            for seq in range(first_seq + done, first_seq + done + n):
                entry = entry_sizes[len(str(seq))]
                pend.append((sec, entry))
                ch.pbytes += entry
            w += wcu(max(before, self.state_size(ch)))
            self.req[proc, "UpdateItem"] += 1
            done += n
        self.charge(ch.k_state, w, r)
        m.wcu_by[part] += w
        m.rcu_by[part] += r

    def _pending_read(self, ch: Chain, part: str, proc: str) -> float:
        """ops.chain_state, items layout: after the state item, the pending items (one Query)."""
        if not ch.pend:
            return 0.0
        r = query_rcu(ch.pbytes)
        self.req[proc, "Query"] += 1
        return r

    def _state_read_advance_items(self, ch: Chain, first_seq: int, k: int, entry_sizes: list[int], part: str,
                                  proc: str) -> None:
        """The same with the pending lines as items of their own: the state item stays small; each
        line is a put (BatchWriteItem) and, once archived, a delete; every state read queries them."""
        m, sec = self.m, self.sec
        r = rcu(self.state_size(ch))
        if not ch.state:
            m.chains_w[sec] += 1
            m.w[sec] += 1
            m.wcu_by[part] += 1
            self.req[proc, "PutItem"] += 1
        r_items = self._pending_read(ch, part, proc)
        w = w_items = 0
        done = 0
        pend = ch.pend
        while done < k:
            n = min(COMMIT_CHUNK, k - done)
            before = self.state_size(ch)
            ch.state = True
            ch.pattr = True
            for seq in range(first_seq + done, first_seq + done + n):
                entry = entry_sizes[len(str(seq))]
                pend.append((sec, entry))
                ch.pbytes += entry
                w_items += -(-entry // 1024)
            self.req[proc, "BatchWriteItem"] += -(-n // 25)
            w += wcu(max(before, self.state_size(ch)))
            self.req[proc, "UpdateItem"] += 1
            done += n
        self.charge(ch.k_state, w, r)
        self.charge(ch.k_pend, w_items, r_items)
        m.wcu_by[part] += w + w_items
        m.rcu_by[part] += r + r_items

    def journal_batch(self, i: int, k: int) -> None:
        """The journal stream's batch for register ``i``: k new entries."""
        u, ch, m, req = self.u, self.regs[i], self.m, self.req
        m.active_journal[self.sec] += 1
        self._state_read_advance(ch, ch.seq - k + 1, k, u.sale_entry, "stream: journal verifier", "stream")
        # EventDeriver.derive_chain: cursor read, events + cursor + head pointer in one transaction,
        # cursor read again (the loop ends when the cursor is past the batch).
        chunks = -(-k // DERIVE_CHUNK)
        if not self.ev_head_cached:  # the events writer's first append: pointer, then the table head
            self.charge(self.EV_HEAD, 0, 1)
            self.charge(self.EV, 0, 1 if not self.ev.seq else self.ev.head_r)
            m.rcu_by["stream: event derivation"] += 2
            req["stream", "GetItem"] += 1
            req["stream", "Query"] += 1
            self.ev_head_cached = True
        ev_w = k * u.event_w
        self.charge(6 + 8 * i + 2, chunks * u.cursor_w, chunks + 1)
        self.charge(self.EV, ev_w, 0)
        self.charge(self.EV_HEAD, chunks * u.pointer_w, 0)
        m.rcu_by["stream: event derivation"] += chunks + 1
        m.wcu_by["stream: event derivation"] += ev_w + chunks * (u.cursor_w + u.pointer_w)
        req["stream", "GetItem"] += chunks + 1
        req["stream", "TransactWriteItems"] += chunks
        self.ev.seq += k
        self.pending_events += k
        if len(ch.pend) >= SEGMENT_ENTRIES:
            self.flush(ch, force=False, part="stream: archiver (journal)", proc="stream")

    def events_batch(self, k: int) -> None:
        """The events stream's batch for this tenant's events chain: k new events."""
        ch, m = self.ev, self.m
        m.active_events[self.sec] += 1
        self._state_read_advance(ch, ch.seq - k + 1, k, self.u.event_entry, "stream: events verifier", "stream")
        self.charge(self.ACC, 0, k)  # anomaly rules: the tenant, once per sale_recorded event
        m.rcu_by["stream: anomaly rules"] += k
        self.req["stream", "GetItem"] += k
        if len(ch.pend) >= SEGMENT_ENTRIES:
            self.flush(ch, force=False, part="stream: archiver (events)", proc="stream")

    def flush(self, ch: Chain, *, force: bool, part: str, proc: str) -> None:
        """Archiver.flush: lease, segments of 100 (or the rest when forced), manifest, release."""
        m, calls, lease, items = self.m, self.m.calls, self.u.state_lease, self.items
        size = self.state_size(ch)
        w = wcu(size + lease)  # take_lease
        r = rcu(size + lease)  # chain_state
        w_items, r_items = 0, (self._pending_read(ch, part, proc) if items else 0.0)
        updates, gets = 1, 1
        written = 0
        pend = ch.pend
        while pend and (len(pend) >= SEGMENT_ENTRIES or force):
            n = min(SEGMENT_ENTRIES, len(pend))
            before = self.state_size(ch, lease=True)
            removed = 0
            for _ in range(n):
                entry = pend.popleft()[1]
                removed += entry
                if items:  # the archived lines' items are deleted (charged on their size)
                    w_items += -(-entry // 1024)
            if items:
                self.req[proc, "BatchWriteItem"] += -(-n // 25)
            ch.pbytes -= removed
            ch.segment_bytes += removed + 600
            m.archive_bytes += removed + 600
            ch.archived = True
            after = self.state_size(ch, lease=True)
            w += wcu(max(before, after))  # mark_archived
            r += rcu(after)  # chain_state again
            if items:
                r_items += self._pending_read(ch, part, proc)
            updates += 1
            gets += 1
            written += 1
        if written:
            calls["S3 PUT"] += written  # the segments
            calls["KMS GenerateDataKey"] += written
            if self.u.paged:  # Archive.commit: index HEAD, LIST pages, LIST tail, HEAD newest, PUT index
                calls["S3 HEAD"] += 2
                calls["S3 LIST"] += 2
                calls["S3 PUT"] += 1
                ch.tail += written
                while ch.tail >= SEGMENT_ENTRIES:  # a page of 100 segments: their HEADs, one page
                    calls["S3 HEAD"] += SEGMENT_ENTRIES
                    calls["S3 PUT"] += 1
                    calls["KMS GenerateDataKey"] += 1
                    ch.tail -= SEGMENT_ENTRIES
            else:  # synced_manifest + write_manifest: GET (+ Decrypt), LIST, HEAD per new segment, PUT
                calls["S3 PUT"] += 1
                calls["KMS GenerateDataKey"] += 1
                calls["S3 GET"] += 1  # 404 the first time
                if ch.manifest:
                    calls["KMS Decrypt"] += 1
                calls["S3 LIST"] += 1
                calls["S3 HEAD"] += written
            ch.manifest = True
            ch.manifest_writes += 1
            ch.segments += written
            m.segments += written
        w += wcu(self.state_size(ch, lease=True))  # release_lease
        updates += 1
        self.charge(ch.k_state, w, r)
        if items:
            self.charge(ch.k_pend, w_items, r_items)
        m.wcu_by[part] += w + w_items
        m.rcu_by[part] += r + r_items
        self.req[proc, "UpdateItem"] += updates
        self.req[proc, "GetItem"] += gets

    # -- the 5-minute checkpoint signer ---------------------------------------------------------------
    def _signer_ms(self) -> float:
        """Latency (ms) of the signer's requests so far: a unit's time is the difference."""
        req, calls = self.req, self.m.calls
        return (sum(req["schedule", op] * LATENCY_MS.get(op, 5.0) for op in SIGNER_OPS)
                + sum(calls[op] * LATENCY_MS[op] for op in SIGNER_CALLS))

    def signer_visit(self, ch: Chain) -> None:
        """CheckpointSigner._one for one chain: one ``sign-work`` unit (decision 0028), worked by
        ``sign_chain``."""
        if ch.seq == 0:
            return  # not in the chain directory yet: the signer does not know it
        m = self.m
        m.units["sign"] += 1
        part = "schedule: checkpoint signer"
        pend = ch.pend
        due = bool(pend) and (len(pend) >= SEGMENT_ENTRIES or pend[0][0] <= self.sec - SEGMENT_WINDOW)
        self.req["schedule", "GetItem"] += 1
        self.req["schedule", "Query"] += 2
        if ch.cp >= ch.seq and not due and not pend and ch.state:
            # idle, nothing pending (the common case at night): three small reads, charged in bulk to
            # the totals and the second, not to the per-key peaks (3 units at most)
            state_r = -(-(self.u.state_fixed + (self.u.state_archived if ch.archived else 0)
                          + (self.u.state_pattr + ch.pbytes if ch.pattr else 0)) // 4096)
            self.tr[ch.k_state] += state_r
            self.tr[ch.k_item] += ch.head_r
            self.tr[ch.k_cp] += 1
            m.r[self.sec] += state_r + ch.head_r + 1
            m.rcu_by[part] += state_r + ch.head_r + 1
            return
        state_r = rcu(self.state_size(ch)) if ch.state else 1
        if self.items and pend:
            r_items = self._pending_read(ch, part, "schedule")
            self.charge(ch.k_pend, 0, r_items)
            m.rcu_by[part] += r_items
        if ch.cp >= ch.seq and not due:
            # idle: three small reads and nothing else (the common case at night), charged in bulk:
            # to the totals and the second, not to the per-key peaks (3 units at most)
            self.tr[ch.k_state] += state_r
            self.tr[ch.k_item] += ch.head_r
            self.tr[ch.k_cp] += 1
            m.r[self.sec] += state_r + ch.head_r + 1
            m.rcu_by[part] += state_r + ch.head_r + 1
            return
        self.charge(ch.k_state, 0, state_r)
        self.charge(ch.k_item, 0, ch.head_r)
        self.charge(ch.k_cp, 0, 1)
        m.rcu_by[part] += state_r + ch.head_r + 1
        started = self._signer_ms() - LATENCY_MS["GetItem"] - 2 * LATENCY_MS["Query"]
        entries = ch.seq - ch.cp
        if ch.cp < ch.seq:
            self.checkpoint(ch, part, "schedule")
        if due:
            self.flush(ch, force=True, part="schedule: archiver (forced, 15-minute window)", proc="schedule")
            r = rcu(self.state_size(ch)) + (self._pending_read(ch, part, "schedule") if self.items else 0)
            self.charge(ch.k_state, 0, r)
            m.rcu_by[part] += r
            self.req["schedule", "GetItem"] += 1
        seconds = (self._signer_ms() - started) / 1000
        if seconds > m.longest.get("sign_chain", (0.0, ""))[0]:
            m.longest["sign_chain"] = (seconds, f"a checkpoint over {entries:,} new entries"
                                       + (" and a forced archive flush" if due else "") + f" at {_hm(self.sec)}")

    # -- the day ---------------------------------------------------------------------------------------
    def run(self) -> None:
        by_second: dict[int, list[int]] = {}
        for i, sales in enumerate(self.plan.registers):
            for sec in sales:
                by_second.setdefault(sec, []).append(i)
        ticks = range(self.plan.tick_offset, DAY, TICK)
        tick_set = set(ticks)
        windows: set[tuple[int, int]] = set()
        m = self.m
        sale, journal_batch = self.sale, self.journal_batch
        chains = [*self.regs, self.ev]
        for sec in sorted(set(by_second) | tick_set):
            self.sec = sec
            regs = by_second.get(sec)
            if regs:
                m.sales_per_second[sec] += len(regs)
                for i in regs:
                    sale(i)
                    windows.add((i, sec // AUTHORIZER_TTL))
                self.pending_events = 0
                if len(regs) == 1:
                    journal_batch(regs[0], 1)
                else:
                    for i, k in sorted(Counter(regs).items()):
                        journal_batch(i, k)
                self.events_batch(self.pending_events)
            if sec in tick_set:
                for ch in chains:
                    self.signer_visit(ch)
        self._close_all()
        n_sales = sum(len(s) for s in self.plan.registers)
        u = self.u
        m.stored_bytes["journal"] += n_sales * u.stored_sale
        m.stored_bytes["ops"] += n_sales * u.stored_claim
        m.stored_bytes["events (30 days)"] += n_sales * u.stored_event
        m.authorizer_windows += len(windows)
        m.sales += n_sales
        m.tenants += 1
        m.registers += len(self.regs)

    # -- names and peaks ------------------------------------------------------------------------------
    FIXED_KINDS = ("accounts TENANT#<t> (tenant + memberships)", "events chain TENANT#<t>#CHAIN#events",
                   "ops HEAD#<events chain> (head pointer)", "ops CHAIN#<events chain> (verifier state)",
                   "checkpoints <events chain>", "ops PENDING#<events chain> (pending archive lines)")
    REGISTER_KINDS = ("journal <register chain>", "ops RECEIPT#<register chain> (receipt claims)",
                      "ops DERIVED#<register chain> (event cursor)", "ops CHAIN#<register chain> (verifier state)",
                      "checkpoints <register chain>", "accounts USER#<seller>", "accounts SESSION#<session>",
                      "ops PENDING#<register chain> (pending archive lines)")

    def _kind(self, k: int) -> str:
        return self.FIXED_KINDS[k] if k < self.FIXED else self.REGISTER_KINDS[(k - self.FIXED) % self.PER_REGISTER]

    def key_name(self, k: int) -> tuple[str, str, str]:
        """(kind, table, partition key) of key ``k``."""
        t = tenant_id_of(self.plan.n)
        events = f"TENANT#{t}#CHAIN#events"
        if k < self.FIXED:
            table, pk = (("accounts", f"TENANT#{t}"), ("events", events), ("ops", f"HEAD#{events}"),
                         ("ops", f"CHAIN#{events}"), ("checkpoints", events), ("ops", f"PENDING#{events}"))[k]
            return self.FIXED_KINDS[k], table, pk
        i, j = divmod(k - self.FIXED, self.PER_REGISTER)
        chain = f"TENANT#{t}#CHAIN#prod.sales.R{i + 1}"
        table, pk = (("journal", chain), ("ops", f"RECEIPT#{t}#prod.sales.R{i + 1}"), ("ops", f"DERIVED#{chain}"),
                     ("ops", f"CHAIN#{chain}"), ("checkpoints", chain),
                     ("accounts", f"USER#{seller_of(self.plan.n, i + 1)}"),
                     ("accounts", f"SESSION#{session_of(self.plan.n, i + 1)}"), ("ops", f"PENDING#{chain}"))[j]
        return self.REGISTER_KINDS[j], table, pk

    def publish(self) -> None:
        """Fold this tenant's per-key peaks (and, in calibration, totals) into the meter."""
        peaks_w, peaks_r = self.m.peaks_w, self.m.peaks_r
        for k in range(self.nkeys):
            kind = self._kind(k)
            if self.mw[k] > 0 and (kind not in peaks_w or self.mw[k] > peaks_w[kind].units):
                peaks_w[kind] = Peak(self.mw[k], self.key_name(k)[2], self.mws[k])
            if self.mr[k] > 0 and (kind not in peaks_r or self.mr[k] > peaks_r[kind].units):
                peaks_r[kind] = Peak(self.mr[k], self.key_name(k)[2], self.mrs[k])
            if self.m.key_totals is not None:
                _, table, pk = self.key_name(k)
                got = self.m.key_totals.setdefault((table, pk), [0.0, 0.0])
                got[0] += self.tw[k]
                got[1] += self.tr[k]


# ---- the hourly jobs and the closures, per chain, from the chain's history ------------------------------
def manifest_growth(day: TenantDay, meter: Meter, sizes: Sizes, *, history_days: int, weekday_ratio: float) -> None:
    """The manifest bytes the day adds to the locked archive. "full" (decision 0007): each flush
    rewrites the chain's manifest, which lists every segment of the chain, as a new object version
    that Object Lock keeps for the retention period (put_version on a versioned, locked bucket).
    "paged" (decision 0017): each flush writes a constant-size index version; each segment is listed
    once, in a page written when 100 segments fill it."""
    for ch in [*day.regs, day.ev]:
        if day.u.paged:
            meter.manifest_bytes += ch.manifest_writes * 400 + ch.segments * sizes.segment_info
            continue
        if ch.manifest_writes:
            before = ch.segments * weekday_ratio * history_days  # segments of the chain's history
            listed = before + ch.segments / 2  # on average over today's rewrites
            size = 200 + listed * sizes.segment_info
            meter.manifest_bytes += ch.manifest_writes * size


# ---- scheduled work (decision 0028): the schedules dispatch, one SQS FIFO unit per chain ------------------
SLICE_ENTRIES = 200_000  # services/scheduled_work.ChainVerificationWork.SLICE_ENTRIES
FULL_PASS_EVERY_HOURS = 168  # services/scheduled_work.FULL_PASS_EVERY_HOURS: a full pass once a week per chain
QUEUE_BATCH = 10  # adapters/work_queue.MAX_BATCH: SendMessageBatch entries
SQS_FIFO_PER_MILLION = 0.50  # USD per million FIFO requests (each up to 64 KB), eu-west-1
DISPATCHERS = {"sign": "sign_checkpoints", "close": "close_periods", "verify": "verify_chains"}
WORKERS = {"sign": "sign_chain", "close": "close_chain", "verify": "verify_chain"}
RUNS_PER_DAY = {"sign": DAY // TICK, "close": 24, "verify": 24}
# infra/stacks/functions.py TIMEOUTS; a worker's is its queue's consumer_timeout_seconds (chalicelib/resources.py)
TIMEOUT_S = {"sign_checkpoints": 120, "close_periods": 120, "verify_chains": 120, "sign_chain": 120,
             "close_chain": 300, "verify_chain": 900}


@dataclass
class UnitCost:
    """What one unit of scheduled work reads and writes, and how long it takes (request latencies
    plus the bytes it reads at ``READ_MB_PER_S``, one after the other)."""

    rcu: float = 0.0
    wcu: float = 0.0
    keys_rcu: float = 0.0  # of rcu: the platform's ops KEYS partition
    bytes: float = 0.0  # read from the tables and the archive
    requests: Counter = field(default_factory=Counter)  # DynamoDB, S3, KMS, SQS operation -> count

    def add(self, op: str, n: int = 1, *, r: float = 0.0, w: float = 0.0, keys: bool = False,
            read: float = 0.0) -> None:
        self.requests[op] += n
        self.rcu += r
        self.wcu += w
        self.bytes += read
        if keys:
            self.keys_rcu += r

    @property
    def seconds(self) -> float:
        return (sum(n * LATENCY_MS.get(op, 5.0) for op, n in self.requests.items()) / 1000
                + self.bytes / (READ_MB_PER_S * 1e6))


def _pages(total_bytes: float) -> int:
    """Query requests of a read of ``total_bytes`` (1 MB pages, at least one)."""
    return max(1, -(-int(total_bytes) // PAGE_BYTES))


def verify_pass(s: Sizes, *, events: bool, head: int, resume_from: int | None, cps_from, cp_bytes: int,
                item: int, head_r: int, hot_first: int = 1, segments_per_entry: float = 0.0,
                segment_bytes: float = 0.0, closure_entries: int = 0) -> list[UnitCost]:
    """The units of one chain's hourly verification (``ChainVerificationWork.run`` and what it calls):
    ``resume_from`` None is the weekly full pass from seq 1, else the seq after the checkpoint the
    previous pass proved (the incremental pass). ``cps_from(x)``: stored checkpoints of size >= x.
    An events chain's entries under ``hot_first`` are read from the archive (S3 GET + KMS Decrypt
    per segment). Each slice of ``SLICE_ENTRIES`` ends at a checkpoint and sends its continuation.
    ``closure_entries``: an incremental range met a closure, whose covered entries it reads again
    from the signed checkpoint before them (decision 0031): that anchor, its entry, the entries."""
    units = []
    u = UnitCost()
    if not events:  # EventDeriver.catch_up: the journal head, the derivation cursor
        u.add("Query", r=head_r)
        u.add("GetItem", r=1)
    first = 1
    if resume_from is not None:  # _resume_from: the VERIFIED# mark, the checkpoint it names
        u.add("GetItem", r=1)
        u.add("Query", r=1)
        first = resume_from
    while True:
        u.add("Query", r=head_r)  # _slice_end: the head
        last = None
        if head - first >= SLICE_ENTRIES:  # the checkpoints from the slice's start, for its last one
            n = cps_from(first) * cp_bytes
            u.add("Query", _pages(n), r=query_rcu(n), read=n)
            last = first + SLICE_ENTRIES - 1  # a checkpoint every entry or two: the slice's end
        end = head if last is None else last
        # VerificationService.verify: the keys; from an anchor, the anchor and its entry; the
        # checkpoints from the anchor on (all of them from seq 1); the entries of the range
        u.add("Query", r=rcu(s.keys_item), keys=True)
        if first > 1:
            u.add("Query", r=1)
            u.add("GetItem", r=rcu(item))
        n = cps_from(first - 1 if first > 1 else 0) * cp_bytes
        u.add("Query", _pages(n), r=query_rcu(n), read=n)
        entries = max(0, end - first + 1)
        archived = max(0, min(end, hot_first - 1) - first + 1) if events else 0
        n = (entries - archived) * item
        u.add("Query", _pages(n), r=query_rcu(n), read=n)
        if archived:  # the archive's index, then every segment of the range: S3 GET + KMS Decrypt each
            segments = max(1, math.ceil(archived * segments_per_entry))
            u.add("S3 GET", 1 + segments, read=segments * segment_bytes)
            u.add("KMS Decrypt", 1 + segments)
        if closure_entries and first > 1:
            u.add("Query", r=1)
            u.add("GetItem", r=rcu(item))
            n = closure_entries * item
            u.add("Query", _pages(n), r=query_rcu(n), read=n)
        if last is None:
            break
        u.add("SQS SendMessage")  # the continuation, from the checkpoint that ends this slice
        units.append(u)
        u = UnitCost()
        first = last + 1
    # FullVerifier at the head: the head, the archive's head and its newest archived checkpoint (one
    # LIST from the checkpoint the pass proved on: ``Archive.newest_checkpoint_size``), the latest
    # checkpoint, the stream state, the archive probe; the pass is recorded (put_once fails once
    # there is a mark: charged, then UpdateItem)
    u.add("Query", r=head_r)
    u.add("S3 HEAD")
    u.add("S3 LIST", 1 + 1)
    u.add("Query", r=1)
    u.add("GetItem", r=rcu(s.state_base + s.state_archived))
    u.add("GetItem", r=1)
    u.add("PutItem", w=1)
    u.add("UpdateItem", w=1)
    units.append(u)
    return units


def close_unit(s: Sizes, *, h: int, today: int, avg: float, size: int, index_day: int) -> UnitCost:
    """One ``close-work`` unit of a register chain (``close_chain`` -> ``close_due_periods``): per
    kind (day, month, year) the closure index twice, the latest closure and ``_next_due_period``'s
    scan, a Query of ``NEXT_DUE_PAGE`` entries (its ``Limit``) to look at the first one. At
    4:00 Friday's day closure: tenant, directory, index, its entries, the newest checkpoint at or
    below the head (``compact_at``: one read) and the keys, one transaction."""
    u = UnitCost()
    since_day = today if h >= 4 else avg
    since_month = avg * 11 + today
    for entries, index_bytes in ((since_day, index_day), (since_month, 12 * 70), (size, 70)):
        page = min(PAGE_BYTES, int(min(entries, NEXT_DUE_PAGE) * s.sale))
        u.add("Query", 2, r=2 * query_rcu(index_bytes))
        u.add("GetItem", r=1)
        u.add("Query", r=query_rcu(page), read=page)
    if h == 4:
        friday = int(avg)
        u.add("GetItem", r=1)  # the tenant
        u.add("Query", r=0.5)  # the directory (eventually consistent)
        u.add("Query", 2, r=2 * query_rcu(index_day))
        u.add("GetItem", r=1)  # the latest closure
        u.add("Query", r=query_rcu(friday * s.sale), read=friday * s.sale)  # Friday's entries
        u.add("Query", r=1)  # compact_at: latest_at_or_below
        u.add("Query", r=rcu(s.keys_item), keys=True)
        u.add("Query", r=1)  # the entries after that checkpoint (none: the night is signed)
        u.add("Query", 2, r=2 * query_rcu(index_day))  # the next due period, looked up again
        u.add("GetItem", r=1)
        u.add("Query", r=1)
        u.add("TransactWriteItems", w=2 * wcu(s.closure) + 2 * wcu(s.closure_claim))  # x2, no index copy
    return u


def hour_of_week(h: int) -> int:
    """The verify schedule's window at local hour ``h`` of the Saturday, as ``full_pass_due`` reads
    it (EventBridge's ``time``: UTC)."""
    when = datetime(SATURDAY.year, SATURDAY.month, SATURDAY.day, h, tzinfo=ZONE).astimezone(UTC)
    return when.weekday() * 24 + when.hour


def _charge_unit(meter: Meter, job: str, part: str, h: int, u: UnitCost, what) -> None:
    """Fold one unit into the meter: its units spread over hour ``h``, its requests, its time."""
    meter.hourly_r[h] += u.rcu
    meter.hourly_w[h] += u.wcu
    meter.hourly_keys_r[h] += u.keys_rcu
    meter.rcu_by[part] += u.rcu
    if u.wcu:
        meter.wcu_by["hourly: close_chain (day closures)" if job == "close" else "hourly: verify_chain (pass marks)"] \
            += u.wcu
    for op, n in u.requests.items():
        if op.startswith("SQS"):
            meter.sqs[job, op.split()[1]] += n
        elif op.startswith(("S3", "KMS")):
            meter.calls_hourly[op] += n
        meter.requests[job, op] += n
    (meter.verify_bytes if job == "verify" else meter.close_bytes)[h] += u.bytes
    meter.units[job] += 1
    worker = WORKERS[job]
    seconds = u.seconds
    if seconds > meter.longest.get(worker, (0.0, ""))[0]:
        meter.longest[worker] = (seconds, what())


def hourly_jobs(day: TenantDay, meter: Meter, sizes: Sizes, *, history_days: int, weekday_ratio: float) -> None:
    """The hourly units of the tenant's chains, as ``close_chain`` and ``verify_chain`` work them,
    from formulas over the chain's history (the simulated day does not hold it) and the day as
    simulated (heads and checkpoints at each hour). Verification: each hour from the checkpoint the
    previous hour proved (the entries since, the anchor, the checkpoints from it on, the head and
    its witnesses); for the chain's one hour a week (``full_pass_due``, the real function), from
    seq 1: every checkpoint, every entry, an events chain's archived segments, in slices."""
    from bisect import bisect_left
    from heapq import merge

    from chalicelib.services.scheduled_work import full_pass_due

    s = sizes
    days = history_days
    t = tenant_id_of(day.plan.n)
    regs = day.plan.registers
    weeks = [hour_of_week(h) for h in range(24)]
    index_day = days * 70  # the chain's day-closure claims (ops CLOSURES#...), ~70 B each
    ev = day.ev
    events_today = sum(len(x) for x in regs)
    avg_events = events_today * weekday_ratio
    chains = [(f"prod.sales.R{i + 1}", ch, regs[i]) for i, ch in enumerate(day.regs)]
    chains.append(("events", ev, list(merge(*regs))))
    for name, ch, seconds in chains:
        events = ch is ev
        hist_cps = int(max(ch.cps, 1) * weekday_ratio * days) if ch.start else 0
        cp_secs = [sec for sec, _ in ch.cp_log]
        cp_sizes = [size for _, size in ch.cp_log]
        avg = len(seconds) * weekday_ratio
        for h in range(24):
            at = h * 3600
            head = ch.start + bisect_left(seconds, at)
            known = bisect_left(cp_secs, at)  # today's checkpoints stored by now
            before = bisect_left(cp_secs, at - 3600) if h else 0
            proven = cp_sizes[before - 1] if before else ch.start  # what the previous hour's pass proved
            cp_bytes = checkpoint_size(s, max(head, 1))

            def cps_from(x: int, known=known, start=ch.start, hist_cps=hist_cps, cp_sizes=cp_sizes) -> int:
                hist = -(-hist_cps * (start - max(x, 1) + 1) // start) if start and x <= start else 0
                return hist + known - bisect_left(cp_sizes, x, 0, known)

            full = full_pass_due(t, name, weeks[h])
            extra = {}
            if events:
                hot = int(min(days, 30) * avg_events) + (head - ch.start)
                segs = ev.segments / max(events_today, 1) if ev.segments else 1 / SEGMENT_ENTRIES
                extra = dict(hot_first=max(1, head - hot + 1), segments_per_entry=segs,
                             segment_bytes=ev.segment_bytes / ev.segments if ev.segments
                             else SEGMENT_ENTRIES * s.event_line)
            if not events and not full and h == 5:
                # the day closure written at 4:00: Friday's entries and the night's, read again
                extra = dict(closure_entries=int(avg) + bisect_left(seconds, 4 * 3600))
            units = verify_pass(s, events=events, head=head, resume_from=None if full else proven + 1,
                                cps_from=cps_from, cp_bytes=cp_bytes, item=ch.item,
                                head_r=ch.head_r, **extra)
            part = "hourly: verify_chain (weekly full pass)" if full else "hourly: verify_chain (incremental)"
            if full:
                meter.full_passes += 1
                meter.continuations += len(units) - 1
            for k, u in enumerate(units):
                _charge_unit(meter, "verify", part, h, u, lambda k=k, n=len(units), head=head, full=full,
                             name=name, proven=proven: (
                                 f"{'slice ' + str(k + 1) + ' of ' + str(n) + ' of ' if n > 1 else ''}"
                                 f"{'the weekly full pass' if full else 'the incremental pass'} of a {name} "
                                 f"chain of {head:,} entries" + ("" if full else f" ({head - proven:,} new)")))
            if events:
                continue
            today = bisect_left(seconds, at)
            u = close_unit(s, h=h, today=today, avg=avg, size=head, index_day=index_day)
            _charge_unit(meter, "close", "hourly: close_chain", h, u,
                         lambda h=h, head=head: f"a {'day closure' if h == 4 else 'run'} of a register chain of "
                                                f"{head:,} entries")


def dispatch_runs(meter: Meter, sizes: Sizes) -> dict[str, UnitCost]:
    """One run of each schedule: the chain directory (ops CHAINS, eventually consistent, 1 MB
    pages), then SendMessageBatch per 10 units of the chains its job applies to
    (``job_applies``: every chain is signed, register chains closed, register and events chains
    verified). Charges every run of the day and the units' receive and delete; returns one run of each."""
    chains = meter.registers + meter.tenants
    listing = chains * sizes.chain_dir_item
    applies = {"sign": chains, "close": meter.registers, "verify": chains}
    runs = {}
    for job, n in applies.items():
        u = UnitCost()
        u.add("Query", _pages(listing), r=query_rcu(listing, consistent=False), read=listing)
        u.add("SQS SendMessageBatch", -(-n // QUEUE_BATCH))
        runs[job] = u
        per_day = RUNS_PER_DAY[job]
        meter.rcu_by["hourly: chain directory listings (all schedules)"] += u.rcu * per_day
        for h in range(24):
            meter.hourly_r[h] += u.rcu * per_day / 24
        meter.sqs[job, "SendMessageBatch"] += u.requests["SQS SendMessageBatch"] * per_day
        meter.requests["dispatch", "Query"] += u.requests["Query"] * per_day
        meter.requests["dispatch", "SQS SendMessageBatch"] += u.requests["SQS SendMessageBatch"] * per_day
        # each unit (continuations included) is received and deleted by its worker's event source
        # mapping (batch size 1: one unit per invocation); empty long polls are not counted
        meter.sqs[job, "ReceiveMessage"] += meter.units[job]
        meter.sqs[job, "DeleteMessage"] += meter.units[job]
    return runs


# ---- the Saturday ------------------------------------------------------------------------------------
@dataclass
class Config:
    tenants: int = 10_000
    seed: int = 7
    history_days: int = 365
    weekday_ratio: float = 0.6
    containers: int = 50
    shards: int = 16
    idempotency_keys: bool = False
    pending_layout: str = "map"  # see detected_design()
    manifest: str = "full"


def run_saturday(cfg: Config, sizes: Sizes, *, progress=None) -> Meter:
    meter = Meter()
    rnd = random.Random(cfg.seed + 1)
    units = Units(sizes, cfg.idempotency_keys, cfg.pending_layout, cfg.manifest)
    batch = 500
    for start in range(1, cfg.tenants + 1, batch):
        for plan in make_plan(min(batch, cfg.tenants - start + 1), seed=cfg.seed * 1_000_003 + start, first=start):
            day = TenantDay(plan, meter, sizes, history_days=cfg.history_days, weekday_ratio=cfg.weekday_ratio,
                            containers=cfg.containers, rnd=rnd, units=units)
            day.run()
            day.publish()
            hourly_jobs(day, meter, sizes, history_days=cfg.history_days, weekday_ratio=cfg.weekday_ratio)
            manifest_growth(day, meter, sizes, history_days=cfg.history_days, weekday_ratio=cfg.weekday_ratio)
        if progress:
            progress(min(cfg.tenants, start + batch - 1))
    # the schedules: each run lists the chains and queues their units (decision 0028)
    meter.dispatch = dispatch_runs(meter, sizes)
    for sec in range(DAY):
        meter.w[sec] += meter.hourly_w[sec // 3600] / 3600
        meter.r[sec] += meter.hourly_r[sec // 3600] / 3600
        meter.keys_r[sec] += meter.hourly_keys_r[sec // 3600] / 3600
    return meter


# ---- the real services on the in-memory adapters, counted ----------------------------------------------
class RealMeter:
    """Per (table, partition key) write and read units of what the real services do, by request."""

    def __init__(self) -> None:
        self.on = False
        self.totals: dict[tuple[str, str], list[float]] = {}
        self.calls: Counter = Counter()

    def charge(self, table: str, pk: str, w: float = 0.0, r: float = 0.0, op: str = "") -> None:
        if not self.on:
            return
        got = self.totals.setdefault((table, pk), [0.0, 0.0])
        got[0] += w
        got[1] += r
        if op:
            self.calls[op] += 1


class CountingChainStore:
    """A ChainStore on an in-memory one, charging what DynamoDBChainStore would send."""

    def __init__(self, inner, table: str, meter: RealMeter) -> None:
        self._inner, self._table, self._m = inner, table, meter
        self._sizes: dict[tuple[str, int], int] = {}
        self.inserted: list = []  # (record, ttl) for the stream

    def _size(self, key: str, seq: int) -> int:
        return self._sizes.get((key, seq), 0)

    def head(self, chain_key):
        rec = self._inner.head(chain_key)
        self._m.charge(self._table, chain_key, r=rcu(self._size(chain_key, rec.seq)) if rec else 1, op="Query")
        return rec

    def get(self, chain_key, seq):
        rec = self._inner.get(chain_key, seq)
        self._m.charge(self._table, chain_key, r=rcu(self._size(chain_key, seq)) if rec else 1, op="GetItem")
        return rec

    def claim(self, pk, sk):
        from chalicelib.adapters.dynamodb_chain_store import claim_item
        from chalicelib.domain.claims import Claim

        got = self._inner.claim(pk, sk)
        size = item_size(claim_item(Claim(pk, sk, {k: v for k, v in got.items() if k not in ("pk", "sk")}))) \
            if got else 0
        self._m.charge("ops", pk, r=rcu(size) if got else 1, op="GetItem")
        return got

    def commit(self, records, claims=(), *, ttl=None):
        from chalicelib.adapters.dynamodb_chain_store import claim_item, to_item

        records = list(records)
        claims = list(claims)
        one = len(records) == 1 and not claims
        for rec in records:
            size = item_size(to_item(rec, ttl))
            self._sizes[(rec.chain_key, rec.seq)] = size
            self._m.charge(self._table, rec.chain_key, w=(1 if one else 2) * wcu(size))  # no index copy
        for c in claims:
            self._m.charge("ops", c.pk, w=2 * wcu(item_size(claim_item(c))))
        self._m.calls["PutItem" if one else "TransactWriteItems"] += 1
        self._inner.commit(records, claims, ttl=ttl)
        self.inserted.extend((rec, ttl) for rec in records)

    def append(self, record, *, ttl=None):
        self.commit([record], ttl=ttl)

    def append_batch(self, records, *, ttl=None):
        self.commit(records, ttl=ttl)

    def raw_items(self, chain_key, first_seq=1, last_seq=None, page_size=None):
        """Query pages of at most 1 MB (and ``page_size`` items, the Query's ``Limit``), each charged
        in full before the reader sees its first item, as DynamoDB reads it."""
        page, page_bytes = [], 0
        for item in self._inner.raw_items(chain_key, first_seq, last_seq):
            size = self._size(chain_key, item["seq"])
            if page and (page_bytes + size > PAGE_BYTES or len(page) == page_size):
                self._m.charge(self._table, chain_key, r=query_rcu(page_bytes), op="Query")
                yield from page
                page, page_bytes = [], 0
            page.append(item)
            page_bytes += size
        self._m.charge(self._table, chain_key, r=query_rcu(page_bytes), op="Query")
        yield from page

    def scan(self, chain_key, first_seq=1, last_seq=None, *, page_size=None):
        from chalicelib.domain.records import SealedRecord

        for item in self.raw_items(chain_key, first_seq, last_seq, page_size):
            yield SealedRecord.from_item(item)

    def by_time(self, chain_key, start, end, *, limit, after_seq=None):
        """DynamoDBChainStore.by_time (decision 0027, no time index): the same search by seq, each
        one-item consistent Query (the head, then ``sk >= s``, ``Limit 1``) charged on the item it
        reads, then consistent Query pages of ``limit`` items (at most 1 MB) until the range ends."""
        from bisect import bisect_left

        from chalicelib.domain.records import SealedRecord
        from chalicelib.domain.time_search import items_in_time_range

        stored = list(self._inner.raw_items(chain_key))
        seqs = [item["seq"] for item in stored]

        def first_at_or_after(seq):
            i = len(seqs) - 1 if seq is None else bisect_left(seqs, seq)
            found = 0 <= i < len(seqs)
            self._m.charge(self._table, chain_key, r=rcu(self._size(chain_key, seqs[i])) if found else 1, op="Query")
            return (seqs[i], stored[i]["recorded_at"]) if found else None

        def items_from(seq):
            i = bisect_left(seqs, seq)
            while True:
                page, page_bytes = [], 0
                while i < len(seqs) and len(page) < limit:
                    size = self._size(chain_key, seqs[i])
                    if page and page_bytes + size > PAGE_BYTES:
                        break
                    page.append(stored[i])
                    page_bytes += size
                    i += 1
                self._m.charge(self._table, chain_key, r=query_rcu(page_bytes), op="Query")
                yield from page
                if i >= len(seqs) and len(page) < limit:  # the last page: no LastEvaluatedKey
                    return

        items = items_in_time_range(lambda: first_at_or_after(None), start, end, limit=limit, after_seq=after_seq,
                                    first_at_or_after=first_at_or_after, items_from=items_from)
        return [SealedRecord.from_item(item) for item in items]


class CountingOps:
    """The ops store (verifier state, small items) on the in-memory twin, charging what
    DynamoDBOpsStore sends: UpdateItem as AWS does (the larger of the item before and after); with
    ``pending_layout="items"`` the pending lines as items of their own (put, queried with the state,
    deleted once archived) and the state item without them."""

    def __init__(self, inner, meter: RealMeter, *, pending_layout: str = "map") -> None:
        self._inner, self._m = inner, meter
        self._items = pending_layout == "items"

    def _size(self, chain_key: str) -> int:
        state = self._inner.chain_state(chain_key)
        if not state.exists:
            return 0
        return state_size_of(replace(state, pending=None) if self._items else state)

    def _lines(self, state) -> dict[int, str]:
        return {seq: line for seq, line in (state.pending or {}).items() if state.archived_through < seq <= state.seq}

    def chain_state(self, chain_key):
        state = self._inner.chain_state(chain_key)
        self._m.charge("ops", f"CHAIN#{chain_key}", r=rcu(self._size(chain_key)) if state.exists else 1, op="GetItem")
        if self._items and state.exists and state.seq > state.archived_through:
            lines = self._lines(state)
            self._m.charge("ops", f"PENDING#{chain_key}", op="Query", r=query_rcu(
                sum(pending_item_size(chain_key, seq, line) for seq, line in lines.items())))
        return state

    def _update(self, chain_key: str, call):
        before = self._size(chain_key)
        try:
            return call()
        finally:
            after = self._size(chain_key)
            self._m.charge("ops", f"CHAIN#{chain_key}", w=wcu(max(before, after)), op="UpdateItem")

    def _items_write(self, chain_key: str, lines: dict[int, str]) -> None:
        if self._items and lines:
            self._m.charge("ops", f"PENDING#{chain_key}", op="BatchWriteItem",
                           w=sum(wcu(pending_item_size(chain_key, seq, line)) for seq, line in lines.items()))

    def advance_head(self, before, **kw):
        self._items_write(before.chain_key, kw.get("add_pending") or {})
        return self._update(before.chain_key, lambda: self._inner.advance_head(before, **kw))

    def take_lease(self, chain_key, **kw):
        return self._update(chain_key, lambda: self._inner.take_lease(chain_key, **kw))

    def release_lease(self, chain_key):
        return self._update(chain_key, lambda: self._inner.release_lease(chain_key))

    def mark_archived(self, before, **kw):
        removed = list(kw.get("removed") or ())
        kw["removed"] = removed
        result = self._update(before.chain_key, lambda: self._inner.mark_archived(before, **kw))
        self._items_write(before.chain_key, {seq: (before.pending or {})[seq] for seq in removed
                                             if seq in (before.pending or {})})  # the deletes
        return result

    def get(self, pk, sk):
        self._m.charge("ops", pk, r=1, op="GetItem")
        return self._inner.get(pk, sk)

    def put_once(self, pk, sk, attributes, **kw):
        self._m.charge("ops", pk, w=1, op="PutItem")
        return self._inner.put_once(pk, sk, attributes, **kw)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class CountingCheckpoints:
    def __init__(self, inner, meter: RealMeter) -> None:
        self._inner, self._m = inner, meter
        self.inserted: list = []

    @staticmethod
    def _size(stored) -> int:
        return item_size(checkpoint_item(stored.checkpoint, stored.frontier))

    def put(self, stored):
        self._inner.put(stored)
        self._m.charge("checkpoints", stored.checkpoint.chain_key, w=wcu(self._size(stored)), op="PutItem")
        self.inserted.append(stored)

    def latest(self, chain_key):
        got = self._inner.latest(chain_key)
        self._m.charge("checkpoints", chain_key, r=rcu(self._size(got)) if got else 1, op="Query")
        return got

    def latest_at_or_below(self, chain_key, size):
        got = self._inner.latest_at_or_below(chain_key, size)
        self._m.charge("checkpoints", chain_key, r=rcu(self._size(got)) if got else 1, op="Query")
        return got

    def list(self, chain_key, min_size=0):
        got = self._inner.list(chain_key, min_size)
        self._m.charge("checkpoints", chain_key, r=query_rcu(sum(self._size(s) for s in got)), op="Query")
        return got

    def keys(self):
        got = self._inner.keys()
        self._m.charge("ops", "KEYS", r=query_rcu(sum(key_item_size(k) for k in got)), op="Query")
        return got

    def put_key(self, key, *, if_absent=False):
        self._m.charge("ops", "KEYS", w=wcu(key_item_size(key)), op="PutItem")
        return self._inner.put_key(key, if_absent=if_absent)

    def legacy_keys(self):
        # Read only while no key is published yet (a new stage): the keys an older version left in ops.
        got = self._inner.legacy_keys()
        self._m.charge("ops", "KEYS", r=query_rcu(sum(key_item_size(k) for k in got)), op="Query")
        return got


class CountingDirectory:
    """DynamoDBChainDirectory's writes: one PutItem per chain and process (its ``_known`` cache).
    Listings are not charged here (the model charges them once per scheduled run)."""

    def __init__(self, inner, meter: RealMeter) -> None:
        self._inner, self._m = inner, meter
        self._known: set = set()

    def register(self, tenant_id, chain):
        if (tenant_id, chain) not in self._known:
            self._m.charge("ops", "CHAINS", w=1, op="PutItem")
            self._known.add((tenant_id, chain))
        self._inner.register(tenant_id, chain)

    def chains(self, tenant_id):
        return self._inner.chains(tenant_id)

    def all_chains(self):
        return self._inner.all_chains()


class CountingObjects:
    def __init__(self, inner, meter: RealMeter) -> None:
        self._inner, self._m = inner, meter

    def put_new(self, key, body, **kw):
        self._m.charge("s3", "archive", op="S3 PUT")
        return self._inner.put_new(key, body, **kw)

    def put_version(self, key, body, **kw):
        self._m.charge("s3", "archive", op="S3 PUT")
        return self._inner.put_version(key, body, **kw)

    def get(self, key):
        self._m.charge("s3", "archive", op="S3 GET")
        return self._inner.get(key)

    def head(self, key):
        self._m.charge("s3", "archive", op="S3 HEAD")
        return self._inner.head(key)

    def keys(self, prefix, *, start_after=None):
        self._m.charge("s3", "archive", op="S3 LIST")
        return self._inner.keys(prefix, start_after=start_after)


class CountingEncryptor:
    """Stands for KmsEncryptor: one GenerateDataKey per encryption, one Decrypt per decryption."""

    def __init__(self, meter: RealMeter) -> None:
        self._m = meter

    def encrypt(self, plaintext, context):
        self._m.charge("kms", "data", op="KMS GenerateDataKey")
        return bytes(plaintext)

    def decrypt(self, ciphertext, context):
        self._m.charge("kms", "data", op="KMS Decrypt")
        return bytes(ciphertext)


class CountingSigner:
    def __init__(self, inner, meter: RealMeter) -> None:
        self._inner, self._m = inner, meter
        self.key_id = KMS_KEY_ID

    def sign(self, message: bytes) -> bytes:
        self._m.charge("kms", "signing", op="KMS Sign")
        return self._inner.sign(message)

    def public_key_pem(self) -> str:
        return self._inner.public_key_pem()


class _NoAlarms:
    def raise_alarm(self, alarm) -> None:
        raise AssertionError(f"the calibration day raised a tamper alarm: {alarm}")


def _pk(key) -> str:
    """The partition key of an accounts key helper's answer: a (pk, sk) tuple (pynamodb models) or
    a DynamoDB key dict (the boto3 adapter)."""
    return key["pk"] if isinstance(key, dict) else key[0]


def run_real_services(plan: list[TenantPlan], tmp: Path, *, pending_layout: str = "map") -> tuple[RealMeter, float]:
    """The plan's sales through the real services on the in-memory adapters (see the module doc).
    Returns the meter and the seconds spent in the request path (record_sale) alone."""
    from chalicelib.adapters.accounts_dynamodb import member_key, session_key, tenant_key, user_key
    from chalicelib.adapters.archive_s3 import InMemoryObjectStore
    from chalicelib.adapters.chain_directory import InMemoryChainDirectory
    from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
    from chalicelib.adapters.dynamodb_chain_store import decode_item, to_item
    from chalicelib.adapters.memory_chain_store import InMemoryChainStore
    from chalicelib.adapters.ops_dynamodb import InMemoryOpsStore
    from chalicelib.adapters.signing import LocalSigner
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role
    from chalicelib.domain.tenant import Tenant
    from chalicelib.services.anomalies import AnomalyService
    from chalicelib.services.archive import Archive, Archiver, RetentionPolicy
    from chalicelib.services.checkpoints import CheckpointCadence, CheckpointService, KeyRegistry
    from chalicelib.services.events import EventDeriver, event_writer
    from chalicelib.services.ledger import LedgerService
    from chalicelib.services.scheduled_work import CheckpointSigner
    from chalicelib.services.sealing import ChainWriter
    from chalicelib.services.stream_verifier import ChainStreamVerifier, CheckpointStreamArchiver, StreamChange

    meter = RealMeter()
    midnight = datetime(SATURDAY.year, SATURDAY.month, SATURDAY.day, tzinfo=ZONE).astimezone(UTC)
    now = [midnight]

    def clock():
        return now[0]

    journal = CountingChainStore(InMemoryChainStore(), "journal", meter)
    events = CountingChainStore(InMemoryChainStore(), "events", meter)
    ops = CountingOps(InMemoryOpsStore(), meter, pending_layout=pending_layout)
    cps = CountingCheckpoints(InMemoryCheckpointStore(), meter)
    directory = InMemoryChainDirectory()
    api_directory = CountingDirectory(directory, meter)
    stream_directory = CountingDirectory(directory, meter)
    signer = CountingSigner(LocalSigner(tmp, "bench-saturday"), meter)
    keys = KeyRegistry(cps, signer, clock=lambda: midnight - timedelta(days=400))
    keys.ensure_current()
    checkpoints = CheckpointService(journal, cps, signer, keys, clock=clock)
    events_checkpoints = CheckpointService(events, cps, signer, keys, clock=clock)
    archive = Archive(CountingObjects(InMemoryObjectStore(), meter), CountingEncryptor(meter),
                      RetentionPolicy(lambda tenant_id: "BE"), clock=clock)
    archiver = Archiver(ops, archive, clock=clock)
    tenants: dict[str, Tenant] = {}

    class Tenants:
        def get(self, tenant_id):
            return tenants[tenant_id]

    def tenant_of(tenant_id):
        meter.charge("accounts", _pk(tenant_key(tenant_id)), r=1, op="GetItem")
        return tenants[tenant_id]

    ledger = LedgerService(writer=ChainWriter(journal, clock=clock), directory=api_directory, index=None,
                           checkpoints=checkpoints, tenants=Tenants(), checkpoint_every=CHECKPOINT_EVERY,
                           clock_skew=timedelta(minutes=5), clock=clock,
                           after_seal=CheckpointCadence(checkpoints, CHECKPOINT_EVERY).after_entry)
    deriver = EventDeriver(journal, events, event_writer(events, clock=clock))
    anomalies = AnomalyService(ops, events, tenant_of=tenant_of)
    alarms = _NoAlarms()
    journal_verifier = ChainStreamVerifier("journal", ops=ops, store=journal, alarms=alarms, archiver=archiver,
                                           directory=stream_directory, clock=clock, deriver=deriver)
    events_verifier = ChainStreamVerifier("events", ops=ops, store=events, alarms=alarms, archiver=archiver,
                                          directory=stream_directory, after_insert=anomalies.on_event, clock=clock)
    cp_archiver = CheckpointStreamArchiver(archive, alarms, cps.keys)
    cp_archiver._ensure_key(KMS_KEY_ID)  # the archived key, as in a running system (not counted)
    checkpoint_signer = CheckpointSigner(directory=directory, checkpoints=checkpoints,
                                         events_checkpoints=events_checkpoints, journal_store=journal,
                                         events_store=events, ops=ops, archiver=archiver, alarms=alarms)
    sequence = [10**20]

    def change(table: str, record, ttl):
        sequence[0] += 1
        item = to_item(record, ttl)
        return StreamChange("INSERT", table, record.chain_key, record.seq, decode_item(item), None,
                            str(sequence[0]), STREAM_ARN[table], now[0], False)

    def stream(store, verifier, table: str) -> None:
        batch, store.inserted = store.inserted, []
        if not batch:
            return
        verifier.begin_batch()
        for record, ttl in batch:
            verifier.handle(change(table, record, ttl))
        failed = verifier.commit()
        if failed:
            raise AssertionError(f"stream batch failed for {sorted(failed)}")
        verifier.end_batch()

    def checkpoint_stream() -> None:
        batch, cps.inserted = cps.inserted, []
        for stored in batch:
            cp = stored.checkpoint
            sequence[0] += 1
            cp_archiver.handle(StreamChange("INSERT", "checkpoints", cp.chain_key, cp.size, {"text": cp.to_text()},
                                            None, str(sequence[0]), STREAM_ARN["checkpoints"], now[0], False))

    callers = {}
    timeline: dict[int, list[tuple[TenantPlan, int]]] = {}
    for tp in plan:
        t = tenant_id_of(tp.n)
        tenants[t] = Tenant(tenant_id=t, company_name="Bench SRL", country="BE", company_number="0403170701",
                            vat_number="BE0403170701", mode="production", created_at=midnight - timedelta(days=400))
        for i, sales in enumerate(tp.registers):
            callers[(tp.n, i)] = Caller(Principal(seller_of(tp.n, i + 1), f"{seller_of(tp.n, i + 1)}@bench.example",
                                                  session_id=session_of(tp.n, i + 1)),
                                        t, Role.SELLER, display_name=f"Seller {i + 1}", tenant=tenants[t])
            for sec in sales:
                timeline.setdefault(sec, []).append((tp, i))
    ticks: dict[int, list[TenantPlan]] = {}
    for tp in plan:
        for sec in range(tp.tick_offset, DAY, TICK):
            ticks.setdefault(sec, []).append(tp)
    counters: Counter = Counter()
    request_seconds = 0.0
    meter.on = True
    for sec in sorted(set(timeline) | set(ticks)):
        now[0] = midnight + timedelta(seconds=sec)
        sales = timeline.get(sec, [])
        for tp, i in sales:
            t = tenant_id_of(tp.n)
            caller = callers[(tp.n, i)]
            for key in (user_key(caller.user_id), member_key(t, caller.user_id), tenant_key(t),
                        session_key(caller.principal.session_id)):
                meter.charge("accounts", _pk(key), r=1)
            meter.calls["BatchGetItem"] += 1
            counters[(tp.n, i)] += 1
            receipt = receipt_of(tp.n, i + 1, counters[(tp.n, i)])
            started = time.perf_counter()
            ledger.record_sale(caller, sale_request(f"R{i + 1}", receipt, now[0]), receipt)
            request_seconds += time.perf_counter() - started
        if sales:
            stream(journal, journal_verifier, "journal")
            stream(events, events_verifier, "events")
            checkpoint_stream()
        for tp in ticks.get(sec, []):
            checkpoint_signer.run(tenants={tenant_id_of(tp.n)})
            checkpoint_stream()
    meter.on = False
    return meter, request_seconds


def model_day(plan: list[TenantPlan], sizes: Sizes, *, pending_layout: str = "map", manifest: str = "full") -> Meter:
    """The same plan through the model, from empty chains, one API container (as the real run)."""
    meter = Meter(key_totals={})
    rnd = random.Random(0)
    units = Units(sizes, False, pending_layout, manifest)
    for tp in plan:
        day = TenantDay(tp, meter, sizes, history_days=0, weekday_ratio=0.0, containers=1, rnd=rnd, fresh=True,
                        units=units)
        day.run()
        day.publish()
    meter.key_totals[("ops", "KEYS")] = [0.0, sum(meter.keys_r)]
    meter.key_totals[("ops", "CHAINS")] = [sum(meter.chains_w), 0.0]
    return meter


@dataclass
class Calibration:
    sales: int
    keys: int
    real_w: float
    real_r: float
    model_w: float
    model_r: float
    worst: list[tuple[str, str, float, float, float, float]]  # (table, pk, real w, model w, real r, model r)
    real_calls: Counter
    model_calls: Counter
    request_ms_per_sale: float
    wall: float
    design: tuple[str, str]

    @property
    def calls_off(self) -> list[tuple[str, int, int]]:
        """S3 and KMS calls where the real archive code and the model disagree: (call, real, model)."""
        names = sorted({k for k in (*self.real_calls, *self.model_calls) if k.startswith(("S3", "KMS"))})
        return [(n, self.real_calls[n], self.model_calls[n]) for n in names
                if self.real_calls[n] != self.model_calls[n]]

    @property
    def max_key_error(self) -> float:
        errors = [0.0]
        for _, _, rw, mw, rr, mr in self.worst:
            errors += [abs(mw - rw) / max(rw, 1.0), abs(mr - rr) / max(rr, 1.0)]
        return max(errors)


def calibrate(plan: list[TenantPlan], sizes: Sizes, *, pending_layout: str | None = None,
              manifest: str | None = None) -> Calibration:
    detected = detected_design()
    design = (pending_layout or detected[0], manifest or detected[1])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        real, request_seconds = run_real_services(plan, Path(tmp), pending_layout=design[0])
    model = model_day(plan, sizes, pending_layout=design[0], manifest=design[1])
    keys = set(real.totals) | set(model.key_totals)
    keys = {k for k in keys if k[0] not in ("s3", "kms")}
    rows = []
    for key in keys:
        rw, rr = real.totals.get(key, [0.0, 0.0])
        mw, mr = model.key_totals.get(key, [0.0, 0.0])
        rows.append((*key, rw, mw, rr, mr))
    rows.sort(key=lambda x: -max(abs(x[3] - x[2]) / max(x[2], 1.0), abs(x[5] - x[4]) / max(x[4], 1.0)))
    sales = sum(len(s) for tp in plan for s in tp.registers)
    return Calibration(
        sales=sales, keys=len(keys),
        real_w=sum(v[0] for k, v in real.totals.items() if k in keys),
        real_r=sum(v[1] for k, v in real.totals.items() if k in keys),
        model_w=sum(v[0] for v in model.key_totals.values()), model_r=sum(v[1] for v in model.key_totals.values()),
        worst=rows, real_calls=real.calls, model_calls=model.calls, design=design,
        request_ms_per_sale=request_seconds / max(sales, 1) * 1000, wall=time.perf_counter() - started,
    )


# ---- per operation, for docs/scaling.md ----------------------------------------------------------------
def time_range_reads(back: int, item_bytes: int, *, limit: int, chain_len: int = 10**9) -> tuple[int, int, float]:
    """(one-item Queries, Query pages, RCU) of ``DynamoDBChainStore.by_time`` (decision 0027, no time
    index) for a range from ``back`` entries before the head to the head, on a chain without holes:
    the head and the search's one-item Queries (each charged on the item it reads: 1 unit under
    4 KB), then consistent Query pages of ``limit`` items (at most 1 MB) until ``limit`` entries are
    found or the chain ends. Runs the real search (``domain/time_search``)."""
    from chalicelib.domain.time_search import items_in_time_range

    head = chain_len
    probes, pages, units = [0], [0], [0.0]

    def at(seq: int) -> str:
        return f"{seq:012d}"

    def first_at_or_after(seq):
        probes[0] += 1
        units[0] += rcu(item_bytes)
        seq = head if seq is None else seq
        return (seq, at(seq)) if seq <= head else None

    def items_from(seq):
        per_page = min(limit, max(1, PAGE_BYTES // item_bytes))
        while True:
            n = max(0, min(per_page, head - seq + 1))
            pages[0] += 1
            units[0] += query_rcu(n * item_bytes)
            yield from ({"seq": x, "recorded_at": at(x)} for x in range(seq, seq + n))
            seq += n
            if seq > head and n < limit:
                return

    found = items_in_time_range(lambda: first_at_or_after(None), at(head - back), at(head + 1), limit=limit,
                                after_seq=None, first_at_or_after=first_at_or_after, items_from=items_from)
    assert len(found) == min(back + 1, limit)
    return probes[0], pages[0], units[0]


def per_operation(sizes: Sizes, *, entries: int = 60_000, checkpoints: int = 40_000, pending: int = 50,
                  pending_layout: str = "map") -> list[tuple]:
    """(operation, requests, WCU, RCU, note) of the main operations, from the sizes and the code."""
    s = sizes
    state = s.state_base + s.state_archived + s.state_pending_attr + s.state_since + pending * s.pending_entry(
        10_000, s.sale_line)
    ev_state = s.state_base + s.state_archived + s.state_pending_attr + s.state_since + pending * s.pending_entry(
        10_000, s.event_line)
    sale_w = 2 * wcu(s.sale) + 2 * wcu(s.receipt_claim)  # transaction x2; no index copy (decision 0027)
    journal10_w = 10 * 2 * wcu(s.journal_entry) + 2 * wcu(s.opkey_claim)
    cp = checkpoint_size(s, entries)
    derive_w = 2 * wcu(s.event) + 2 * wcu(s.cursor) + 2 * wcu(s.pointer)
    state_w = wcu(state + s.pending_entry(10_000, s.sale_line))
    ev_state_w = wcu(ev_state + s.pending_entry(10_000, s.event_line))
    small = s.state_base + s.state_archived + s.state_since
    sale_item = pending_item_size("TENANT#t00000000001#CHAIN#prod.sales.R1", 10_000, s.sale_line)
    event_item = pending_item_size("TENANT#t00000000001#CHAIN#events", 10_000, s.event_line)
    from chalicelib.services.anomalies import AnomalyConfig

    list_limit, history_limit = 100, AnomalyConfig().history_limit
    hour, hour_cps = 20, 12  # a busy hour of a register: ~20 sales, a checkpoint per 5-minute run
    inc = verify_pass(s, events=False, head=entries, resume_from=entries - hour + 1,
                      cps_from=lambda x: 1 + hour_cps if x >= entries - hour else checkpoints, cp_bytes=cp,
                      item=s.sale, head_r=rcu(s.sale))[0]
    full = verify_pass(s, events=False, head=entries, resume_from=None,
                       cps_from=lambda x: -(-checkpoints * (entries - max(x, 1) + 1) // entries), cp_bytes=cp,
                       item=s.sale, head_r=rcu(s.sale))
    day = entries // 365  # an average day of a 1-year register
    day_probes, day_pages, day_r = time_range_reads(day, s.sale, limit=list_limit)
    tenant_day = 440  # the Saturday's sales per tenant (4.4 million / 10,000): its events
    ev_probes, ev_pages, ev_r = time_range_reads(tenant_day, s.event, limit=history_limit)
    if pending_layout == "items":
        streams = [
            ("sale, journal stream (alone in its batch)",
             "GetItem + Query (pending) + BatchWriteItem + UpdateItem (state) + 2 GetItem + TransactWriteItems",
             wcu(sale_item) + wcu(small) + derive_w, rcu(small) + query_rcu(pending * sale_item) + 2,
             f"{pending} pending lines as items of {sale_item} B: put now, deleted ({wcu(sale_item)} WCU) "
             "when archived"),
            ("sale, events stream (alone in its batch)",
             "GetItem + Query (pending) + BatchWriteItem + UpdateItem (state) + GetItem (tenant)",
             wcu(event_item) + wcu(small), rcu(small) + query_rcu(pending * event_item) + 1,
             f"{pending} pending events as items of {event_item} B; deleted ({wcu(event_item)} WCU) when archived"),
        ]
    else:
        streams = [
            ("sale, journal stream (alone in its batch)",
             "GetItem + UpdateItem (state) + 2 GetItem + TransactWriteItems", state_w + derive_w, rcu(state) + 2,
             f"state item with {pending} pending entries ({state} B): the UpdateItem is charged on the whole item"),
            ("sale, events stream (alone in its batch)", "GetItem + UpdateItem (state) + GetItem (tenant)",
             ev_state_w, rcu(ev_state) + 1, f"events state item with {pending} pending events ({ev_state} B)"),
        ]
    return [
        ("sale (request path)", "BatchGetItem + TransactWriteItems", sale_w, 4,
         f"entry {s.sale} B x2 (transaction), receipt claim {s.receipt_claim} B x2; 4 consistent reads"),
        ("  + inline checkpoint, 1 sale in 100", "2 Query + Query(100 entries) + Query KEYS + Sign + PutItem",
         wcu(cp), 2 + query_rcu(100 * s.sale) + 1, "amortised: /100 per sale"),
        *streams,
        ("journal batch of 10 entries + Idempotency-Key", "BatchGetItem + TransactWriteItems", journal10_w, 4,
         f"entries {s.journal_entry} B x2; OPKEY claim; its stream work as 10 sales in one batch"),
        (f"list today's entries of that register (GET .../entries?from&to, {list_limit} a page)",
         f"{day_probes} one-item Query + {day_pages} Query", 0, day_r,
         f"the range starts {day} entries before the head: head + {day_probes - 1} one-item Queries find it "
         f"(decision 0027), then one page of {list_limit} entries; a next page: 1 one-item Query + the page"),
        (f"anomaly rules' look-back of a reversal (the tenant's business day: {tenant_day} events)",
         f"{ev_probes} one-item Query + {ev_pages} Query", 0, ev_r,
         f"events of {s.event} B, history_limit {history_limit:,}; sales (after_hours) read no history"),
        ("day closure of a register (hourly close_chain unit)", "~14 Query/GetItem + TransactWriteItems",
         2 * wcu(s.closure) + 2 * wcu(s.closure_claim),
         1 + 0.5 + 4 * query_rcu(70 * 365) + 2 + query_rcu(int(entries / 365 * 1.0) * s.sale) + 1
         + rcu(s.keys_item) + 1,
         "reads the day's entries and the newest checkpoint at or below the head (compact_at: one read)"),
        ("close_periods, one chain, one hourly run", "9 Query + 3 GetItem", 0,
         2 * query_rcu(70 * 365) + 4 * 1 + 3 + 3 * query_rcu(NEXT_DUE_PAGE * s.sale),
         f"per kind, a page of {NEXT_DUE_PAGE} entries after the latest closure (a 1 MB page before: 256 units)"),
        (f"verify_chain, incremental unit, one register chain of {entries:,} entries ({hour} new, "
         f"{hour_cps} checkpoints since the last pass)", f"{sum(inc.requests.values())} requests "
         f"({inc.requests['S3 LIST']} S3 LIST)", inc.wcu, inc.rcu,
         "every hour: the anchor, the checkpoints from it on, the new entries, the head and its witnesses"),
        ("verify_chain, weekly full pass of that chain", f"{len(full)} unit(s), "
         f"{sum(sum(u.requests.values()) for u in full)} requests", sum(u.wcu for u in full),
         sum(u.rcu for u in full), "once a week per chain: every checkpoint and every entry from seq 1"),
        ("fiscal export of that chain (+ events)", "all entries + checkpoints + archive reads + Sign",
         "~4", query_rcu(entries * s.sale) + query_rcu(checkpoints * cp) + query_rcu(30 * 160 * s.event),
         "plus one S3 GET and KMS Decrypt per archived events segment"),
    ]


# ---- cost --------------------------------------------------------------------------------------------
READ_MB_PER_S = 10.0  # a job reading a chain: one consistent 1 MB Query page per ~100 ms (assumption)


@dataclass(frozen=True)
class CostLine:
    group: str  # "sales" (the sales and all that follows, signing included), "hourly" (close, verify), "month"
    item: str
    quantity: float
    unit: str
    usd: float


def lambda_seconds(meter: Meter, cfg: Config, app_ms: float) -> dict[str, float]:
    """Billed Lambda seconds of the day per function kind, from request counts x LATENCY_MS (+ the
    app time measured on the real request path; + reading time for the jobs that read history)."""
    lat: Counter = Counter()
    for (part, op), n in meter.requests.items():
        lat[part] += n * LATENCY_MS.get(op, 5.0)
    c = meter.calls
    lat["schedule"] += c["KMS Sign"] * LATENCY_MS["KMS Sign"] * 0.98  # nearly all by the signer
    lat["stream"] += (c["S3 PUT"] * LATENCY_MS["S3 PUT"] + c["KMS GenerateDataKey"] * LATENCY_MS["KMS GenerateDataKey"]
                      ) * 0.5  # archive writes, shared with the forced flushes of the signer
    lat["schedule"] += (c["S3 PUT"] * LATENCY_MS["S3 PUT"]) * 0.5
    runs = {job: u.seconds * RUNS_PER_DAY[job] for job, u in meter.dispatch.items()}
    return {
        "api": (meter.sales * app_ms + lat["api"]) / 1000,
        "authorizer": meter.authorizer_windows * 5 / 1000,
        "stream": (lat["stream"] + stream_invocations(meter, cfg) * 20) / 1000,
        "sign_chain": lat["schedule"] / 1000,
        "verify_chain": lat["verify"] / 1000 + sum(meter.verify_bytes) / (READ_MB_PER_S * 1e6),
        "close_chain": lat["close"] / 1000 + sum(meter.close_bytes) / (READ_MB_PER_S * 1e6),
        "sign_checkpoints": runs.get("sign", 0.0),
        "close_periods + verify_chains": runs.get("close", 0.0) + runs.get("verify", 0.0),
    }


def sqs_requests(meter: Meter, jobs) -> int:
    """FIFO requests of ``jobs``' queues: SendMessageBatch, continuations, receives, deletes."""
    return sum(n for (job, _), n in meter.sqs.items() if job in jobs)


def stream_invocations(meter: Meter, cfg: Config) -> float:
    """One invocation per shard with records in a second (chains spread over ``cfg.shards`` shards),
    plus the checkpoints stream at ~10 records per invocation."""
    return (sum(min(a, cfg.shards) for a in meter.active_journal) + sum(min(a, cfg.shards)
                                                                        for a in meter.active_events)
            + meter.checkpoints / 10)


def day_cost(meter: Meter, cfg: Config, app_ms: float) -> list[CostLine]:
    p = prices()
    per_m = 1e-6
    wru, rru = p["dynamodb_write_per_million"] * per_m, p["dynamodb_read_per_million"] * per_m
    sign, sym_price = p["kms_ecc_sign_per_10k"] / 1e4, p["kms_symmetric_per_10k"] / 1e4
    sales_w = sum(v for k, v in meter.wcu_by.items() if not k.startswith("hourly"))
    sales_r = sum(v for k, v in meter.rcu_by.items() if not k.startswith("hourly"))
    hourly_w = sum(v for k, v in meter.wcu_by.items() if k.startswith("hourly"))
    hourly_r = sum(v for k, v in meter.rcu_by.items() if k.startswith("hourly"))
    secs = lambda_seconds(meter, cfg, app_ms)
    gbs_sales = (secs["api"] * LAMBDA_MB["api"] + secs["authorizer"] * LAMBDA_MB["authorizer"]
                 + secs["stream"] * LAMBDA_MB["stream"] + secs["sign_chain"] * LAMBDA_MB["schedule"]
                 + secs["sign_checkpoints"] * LAMBDA_MB["dispatch"]) / 1024
    gbs_hourly = (secs["verify_chain"] * LAMBDA_MB["verify"] + secs["close_chain"] * LAMBDA_MB["close"]
                  + secs["close_periods + verify_chains"] * LAMBDA_MB["dispatch"]) / 1024
    inv_sales = (meter.sales + meter.authorizer_windows + stream_invocations(meter, cfg) + RUNS_PER_DAY["sign"]
                 + meter.units["sign"])
    inv_hourly = RUNS_PER_DAY["close"] + RUNS_PER_DAY["verify"] + meter.units["close"] + meter.units["verify"]
    sqs_sign, sqs_hourly = sqs_requests(meter, ("sign",)), sqs_requests(meter, ("close", "verify"))
    c, ch = meter.calls, meter.calls_hourly

    def s3_reads(calls: Counter) -> float:
        return (calls["S3 GET"] * p["s3_get_per_thousand"] + calls["S3 HEAD"] * p["s3_head_per_thousand"]
                + calls["S3 LIST"] * p["s3_list_per_thousand"]) / 1000

    sym = c["KMS GenerateDataKey"] + c["KMS Decrypt"]
    stored = sum(meter.stored_bytes.values()) / 1e9
    return [
        CostLine("sales", "DynamoDB write request units", sales_w, "WRU", sales_w * wru),
        CostLine("sales", "DynamoDB read request units", sales_r, "RRU", sales_r * rru),
        CostLine("sales", "API Gateway REST requests", meter.sales, "request",
                 meter.sales * p["api_gateway_rest_per_million"] * per_m),
        CostLine("sales", "Lambda requests (API, authorizer, streams, signing schedule and units)", inv_sales,
                 "invocation", inv_sales * p["lambda_request_per_million"] * per_m),
        CostLine("sales", "Lambda compute (API, authorizer, streams, signing schedule and units)", gbs_sales, "GB-s",
                 gbs_sales * p["lambda_gb_second"]),
        CostLine("sales", "SQS FIFO requests (sign-work: SendMessageBatch, receive, delete)", sqs_sign, "request",
                 sqs_sign * SQS_FIFO_PER_MILLION * per_m),
        CostLine("sales", "S3 PUT (segments, manifests, checkpoints)", c["S3 PUT"], "request",
                 c["S3 PUT"] * p["s3_put_per_thousand"] / 1000),
        CostLine("sales", "S3 GET/HEAD/LIST (manifests)", c["S3 GET"] + c["S3 HEAD"] + c["S3 LIST"], "request",
                 s3_reads(c)),
        CostLine("sales", "KMS Sign (checkpoints)", c["KMS Sign"], "request", c["KMS Sign"] * sign),
        CostLine("sales", "KMS GenerateDataKey + Decrypt (archive)", sym, "request", sym * sym_price),
        CostLine("hourly", "DynamoDB read request units", hourly_r, "RRU", hourly_r * rru),
        CostLine("hourly", "DynamoDB write request units (closures, pass marks)", hourly_w, "WRU",
                 hourly_w * p["dynamodb_write_per_million"] * per_m),
        CostLine("hourly", "S3 GET/HEAD/LIST (archived events segments)", ch["S3 GET"] + ch["S3 HEAD"] + ch["S3 LIST"],
                 "request", s3_reads(ch)),
        CostLine("hourly", "KMS Decrypt (archived events segments)", ch["KMS Decrypt"], "request",
                 ch["KMS Decrypt"] * p["kms_symmetric_per_10k"] / 1e4),
        CostLine("hourly", "SQS FIFO requests (close-work, verify-work: send, continuations, receive, delete)",
                 sqs_hourly, "request", sqs_hourly * SQS_FIFO_PER_MILLION * per_m),
        CostLine("hourly", "Lambda requests (48 schedule runs, close and verify units)", inv_hourly, "invocation",
                 inv_hourly * p["lambda_request_per_million"] * per_m),
        CostLine("hourly", "Lambda compute (reading time included)", gbs_hourly, "GB-s",
                 gbs_hourly * p["lambda_gb_second"]),
        CostLine("month", "DynamoDB storage + PITR that the day adds", stored, "GB-month",
                 stored * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"])),
        CostLine("month", "S3 archive that the day adds (Standard, first year)", meter.archive_bytes / 1e9, "GB-month",
                 meter.archive_bytes / 1e9 * p["s3_standard_gb_month"]),
        CostLine("month", "S3 manifest versions that the day adds (kept, Object Lock)", meter.manifest_bytes / 1e9,
                 "GB-month", meter.manifest_bytes / 1e9 * p["s3_standard_gb_month"]),
    ]


# ---- report ------------------------------------------------------------------------------------------
def baseline_hash_rate(seconds: float = 0.3) -> float:
    """Bare canonicalise + SHA-256 of a sale entry per second (the project's baseline)."""
    from bench.common import sale_payload
    from chalicelib.domain.canonical import canonical_bytes

    payload = sale_payload(0)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            hashlib.sha256(canonical_bytes(payload)).digest()
        n += 200
    return n / (time.perf_counter() - started)


def _hm(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


def tills_per_tenant(sizes: Sizes, *, till_rate: float = 1 / 30) -> list[tuple[str, str]]:
    """Sales per second one register and one tenant can sustain, by the key or the serialisation
    that binds first (see docs/scaling.md), and the tills that makes at ``till_rate`` sales/s each."""
    s = sizes
    per_register_w = 2 * wcu(s.sale)  # transaction x2; no index copy (decision 0027)
    seal_ms = LATENCY_MS["TransactWriteItems"] + 3.0
    per_register = min(WCU_PER_KEY / per_register_w, 1000 / seal_ms)
    ev_w = 2 * wcu(s.event)
    # the events chain is written by derivation transactions that must follow each other (head pointer)
    derive_ms = LATENCY_MS["TransactWriteItems"] + 2 * LATENCY_MS["GetItem"]
    tx_per_s = 1000 / derive_ms
    per_tenant_events_key = WCU_PER_KEY / ev_w
    per_tenant_accounts = RCU_PER_KEY / 3
    per_tenant = min(per_tenant_events_key, per_tenant_accounts)
    rows = [
        ("one register, WCU of its journal partition", f"{WCU_PER_KEY / per_register_w:,.0f} sales/s "
                                                       f"({per_register_w} WCU per sale: the transaction)"),
        ("one register, its chain's serialisation", f"{1000 / seal_ms:,.0f} sales/s (one TransactWriteItems at "
                                                    f"~{seal_ms:.0f} ms, head cached)"),
        ("one tenant, events chain partition", f"{per_tenant_events_key:,.0f} events/s ({ev_w} WCU per event)"),
        ("one tenant, events chain serialisation", f"{tx_per_s:,.0f} derivation transactions/s (one per register "
                                                   "and stream batch; more registers per batch share none)"),
        ("one tenant, accounts TENANT# partition", f"{per_tenant_accounts:,.0f} sales/s (3 consistent reads per sale)"),
        ("tills per register", f"{per_register / till_rate:,.0f} at one sale per {1 / till_rate:.0f} s "
                               "(a till is one register: physically 1)"),
        ("tills per tenant (binding: min of the above)",
         f"~{min(per_tenant / till_rate, tx_per_s / till_rate):,.0f} at one sale per {1 / till_rate:.0f} s each"),
        ("the whole platform, API Gateway method throttle", f"{API_METHOD_RATE} req/s (burst {API_METHOD_BURST}) on "
                                                             "POST /sales for ALL tenants together"),
    ]
    return rows


def print_report(cfg: Config, scale_note: str, sizes: Sizes, meter: Meter, calib: Calibration | None,
                 sim_seconds: float, baseline: float, wall: float) -> None:
    rows: list[tuple[str, str]] = [("setup", scale_note)]
    rows.append(("sizes (B, DynamoDB rules)", f"sale {sizes.sale}, receipt claim {sizes.receipt_claim}, event "
                 f"{sizes.event}, cursor {sizes.cursor}, pointer {sizes.pointer}, archive line {sizes.sale_line}, "
                 f"state item without pending {sizes.state_base + sizes.state_archived}, checkpoint "
                 f"~{checkpoint_size(sizes, 60_000)}"))
    if calib is not None:
        rows.append(("calibration: real services vs model",
                     f"{calib.sales} sales, {calib.keys} keys: WCU real {calib.real_w:,.0f} / model "
                     f"{calib.model_w:,.0f} ({calib.model_w / max(calib.real_w, 1):.3f}), RCU real {calib.real_r:,.0f}"
                     f" / model {calib.model_r:,.0f} ({calib.model_r / max(calib.real_r, 1):.3f}); worst key off by "
                     f"{calib.max_key_error:.1%} ({calib.wall:.1f} s)"))
        t, pk, rw, mw, rr, mr = calib.worst[0]
        rows.append(("  worst key", f"{t} {pk}: WCU {rw:,.0f} real / {mw:,.0f} model, RCU {rr:,.0f} / {mr:,.0f}"))
        off = calib.calls_off
        rows.append(("  S3 and KMS calls, real vs model", "equal" if not off else "DIFFER: " + ", ".join(
            f"{name} {real:,} real / {model:,} model" for name, real, model in off)))
        rate = 1000 / max(calib.request_ms_per_sale, 1e-9)
        rows.append(("  real request path, in-memory adapters", f"{calib.request_ms_per_sale:.2f} ms of app time per "
                     f"sale = {rate:,.0f} sales/s; ratio to the canonicalise+SHA-256 baseline ({baseline:,.0f}/s) "
                     f"{rate / baseline:.3f}"))
    rows.append(("simulated", f"{meter.tenants:,} tenants, {meter.registers:,} registers, {meter.sales:,} sales; "
                 f"{meter.checkpoints:,} checkpoints signed, {meter.segments:,} archive segments"))
    rows.append(("model speed", f"{meter.sales / sim_seconds:,.0f} simulated sales/s ({sim_seconds:.1f} s); ratio to "
                 f"the canonicalise+SHA-256 baseline {meter.sales / sim_seconds / baseline:.3f}"))
    peak_sales = max(meter.sales_per_second)
    hour = [sum(meter.sales_per_second[h * 3600:(h + 1) * 3600]) for h in range(24)]
    busiest = max(range(24), key=hour.__getitem__)
    rows.append(("sales per second", f"peak {peak_sales} at {_hm(meter.sales_per_second.index(peak_sales))}; busiest "
                 f"hour {busiest:02d}:00 ({hour[busiest] / 3600:,.1f}/s on average, {hour[busiest] / meter.sales:.1%}"
                 " of the day)"))
    verdict = "OVER" if peak_sales > API_METHOD_RATE else "within"
    rows.append(("  vs API Gateway throttle of POST /sales", f"{peak_sales / API_METHOD_RATE:.2f} of the "
                 f"{API_METHOD_RATE} req/s rate (burst {API_METHOD_BURST}) -> {verdict} at {meter.tenants:,} tenants"))
    for title, peaks, limit in (("WCU/s", meter.peaks_w, WCU_PER_KEY), ("RCU/s", meter.peaks_r, RCU_PER_KEY)):
        for kind, peak in sorted(peaks.items(), key=lambda kv: -kv[1].units)[:5]:
            rows.append((f"hottest {title}: {kind}", f"{peak.units:,.0f} = {peak.units / limit:.3f} of {limit:,} at "
                         f"{_hm(peak.second)} [{peak.key}]"))
    keys_peak, chains_peak = max(meter.keys_r), max(meter.chains_w)
    rows.append(("hottest RCU/s: ops KEYS (global)", f"{keys_peak:,.1f} = {keys_peak / RCU_PER_KEY:.3f} of "
                 f"{RCU_PER_KEY:,} at {_hm(meter.keys_r.index(keys_peak))}"))
    rows.append(("hottest WCU/s: ops CHAINS (global)", f"{chains_peak:,.0f} = {chains_peak / WCU_PER_KEY:.3f} of "
                 f"{WCU_PER_KEY:,} at {_hm(meter.chains_w.index(chains_peak))} ({cfg.containers} API containers)"))
    verify_page = PAGE_BYTES // 4096 * READ_MB_PER_S
    rows.append(("full verifier reading one chain", f"{verify_page:,.0f} RCU/s = {verify_page / RCU_PER_KEY:.3f} of "
                 f"{RCU_PER_KEY:,} (one 1 MB consistent page per {1 / READ_MB_PER_S:.1f} s, assumed)"))
    w_peak, r_peak = max(meter.w), max(meter.r)
    rows.append(("total peak WCU/s, all tables", f"{w_peak:,.0f} at {_hm(meter.w.index(w_peak))}"))
    rows.append(("total peak RCU/s, all tables", f"{r_peak:,.0f} at {_hm(meter.r.index(r_peak))} (hourly jobs spread "
                 "evenly over their hour)"))
    for what, by in (("write", meter.wcu_by), ("read", meter.rcu_by)):
        total = sum(by.values())
        rows.append((f"{what} units per sale", f"{total / meter.sales:,.1f}: " + ", ".join(
            f"{part} {units / meter.sales:,.1f}" for part, units in by.most_common(9))))
    for job, run in meter.dispatch.items():
        name = DISPATCHERS[job]
        rows.append((f"schedule {name}, one run", f"~{run.seconds:,.1f} s = {run.seconds / TIMEOUT_S[name]:.3f} of its "
                     f"{TIMEOUT_S[name]} s timeout: {run.requests['Query']} directory page(s), "
                     f"{run.requests['SQS SendMessageBatch']:,} SendMessageBatch ({RUNS_PER_DAY[job]} runs a day)"))
    for job, worker in WORKERS.items():
        seconds, what = meter.longest.get(worker, (0.0, "none"))
        rows.append((f"worker {worker}, longest unit", f"~{seconds:,.1f} s = {seconds / TIMEOUT_S[worker]:.3f} of its "
                     f"{TIMEOUT_S[worker]} s timeout ({what}); {meter.units[job]:,} units a day"))
    rows.append(("verification passes", f"{meter.full_passes:,} weekly full passes fell on the day (1/"
                 f"{FULL_PASS_EVERY_HOURS} of the chains each hour), {meter.continuations:,} continuation slices; "
                 f"the rest incremental"))
    sqs_total = sqs_requests(meter, tuple(WORKERS))
    rows.append(("SQS FIFO requests a day", f"{sqs_total:,} = ${sqs_total * SQS_FIFO_PER_MILLION / 1e6:,.2f}: "
                 + ", ".join(f"{job} {sqs_requests(meter, (job,)):,}" for job in WORKERS)))
    for name, value in tills_per_tenant(sizes):
        rows.append((f"capacity: {name}", value))
    lines = day_cost(meter, cfg, calib.request_ms_per_sale if calib else 0.5)
    for group, title in (("sales", "the sales and what follows"), ("hourly", "hourly jobs over the history"),
                         ("month", "storage")):
        for ln in (x for x in lines if x.group == group):
            qty = f"{ln.quantity:,.0f}" if ln.quantity >= 100 else f"{ln.quantity:,.2f}"
            rows.append((f"cost [{title}]: {ln.item}", f"{qty} {ln.unit} = ${ln.usd:,.2f}"))
    sales_cost = sum(x.usd for x in lines if x.group == "sales")
    hourly_cost = sum(x.usd for x in lines if x.group == "hourly")
    rows.append(("cost of the day", f"${sales_cost + hourly_cost:,.2f} = ${sales_cost:,.2f} sales + "
                 f"${hourly_cost:,.2f} hourly jobs (eu-west-1 list prices of {_prices_date()}; storage not included)"))
    month = {x.item: x.usd / meter.sales * 1e6 for x in lines if x.group == "month"}
    rows.append(("cost of 1 million sales (sales part)", f"${sales_cost / meter.sales * 1e6:,.2f}, then per month "
                 + ", ".join(f"{item.split(' that')[0]} ${usd:,.2f}" for item, usd in month.items())))
    rows.append(("wall time", f"{wall:.0f} s"))
    report("a busy Saturday: DynamoDB load per partition key, hot keys, cost (model checked against the real services)",
           rows)
    print("\n  per operation (units from the measured sizes; see docs/scaling.md):")
    for op, requests, w, r, note in per_operation(sizes, pending_layout=cfg.pending_layout):
        print(f"    {op}: {requests}; WCU {w}; RCU {r}; {note}")


def _prices_date() -> str:
    from infra.costs import PRICES_DATE

    return PRICES_DATE


# ---- main --------------------------------------------------------------------------------------------
def parse_options(argv=None) -> argparse.Namespace:
    """The options; ``argv == []`` is how ``python -m bench`` calls every benchmark, and gets the
    small default scale (0.1) so that the whole bench run stays short."""
    from_bench_runner = argv is not None and not argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=10_000, help="tenants of the full size (default 10,000)")
    parser.add_argument("--scale", type=float, default=0.1 if from_bench_runner else 1.0,
                        help="fraction of --tenants to simulate (default 1.0; 0.1 under `python -m bench`)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-days", type=int, default=365,
                        help="days of history behind each chain, for the hourly jobs (default 365)")
    parser.add_argument("--weekday-ratio", type=float, default=0.6,
                        help="an average day's sales as a fraction of the Saturday's (default 0.6)")
    parser.add_argument("--containers", type=int, default=50, help="warm API Lambda containers (default 50)")
    parser.add_argument("--shards", type=int, default=16, help="stream shards per table, for invocations (default 16)")
    parser.add_argument("--calibration-tenants", type=int, default=3,
                        help="tenants run through the real services to check the model (default 3)")
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument("--pending-layout", choices=("auto", "map", "items"), default="auto",
                        help="where the verifier keeps the pending archive lines: in its state item (map) or as "
                             "items of their own (items); auto: what this checkout's ops adapter does")
    parser.add_argument("--manifest", choices=("auto", "full", "paged"), default="auto",
                        help="archive manifest: one list rewritten per flush (full) or pages + index (paged); "
                             "auto: what this checkout's archive does")
    args = parser.parse_args(argv)
    detected = detected_design()
    args.pending_layout = detected[0] if args.pending_layout == "auto" else args.pending_layout
    args.manifest = detected[1] if args.manifest == "auto" else args.manifest
    args.detected = detected
    args.from_bench_runner = from_bench_runner
    return args


def main(argv=None) -> None:
    args = parse_options(argv)
    from_bench_runner = args.from_bench_runner
    wall = time.perf_counter()
    tenants = max(1, round(args.tenants * args.scale))
    cfg = Config(tenants=tenants, seed=args.seed, history_days=args.history_days, weekday_ratio=args.weekday_ratio,
                 containers=args.containers, shards=args.shards, pending_layout=args.pending_layout,
                 manifest=args.manifest)
    sizes = measure_sizes()
    baseline = baseline_hash_rate()
    calib = None
    if not args.no_calibration and args.calibration_tenants > 0:
        calib = calibrate(make_plan(args.calibration_tenants, seed=args.seed + 99, median_sales=60), sizes,
                          pending_layout=args.pending_layout, manifest=args.manifest)
    started = time.perf_counter()
    meter = run_saturday(cfg, sizes)
    sim_seconds = time.perf_counter() - started
    note = (f"{tenants:,} tenants (scale {args.scale:g} of {args.tenants:,})"
            + (" - `python -m bench` default; run `python -m bench.bench_saturday` for the full size"
               if from_bench_runner else "")
            + f"; history {args.history_days} days; seed {args.seed}; {args.containers} API containers; design: "
            f"pending lines as {args.pending_layout}, {args.manifest} manifests (this checkout: {args.detected[0]}, "
            f"{args.detected[1]})")
    print_report(cfg, note, sizes, meter, calib, sim_seconds, baseline, time.perf_counter() - wall)
    if tenants != args.tenants:
        print(f"  NOTE: {args.tenants:,} tenants were not run; figures above are for {tenants:,}.")


if __name__ == "__main__":
    main()
