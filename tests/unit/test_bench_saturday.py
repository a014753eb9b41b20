"""The Saturday simulation's accounting (bench/bench_saturday.py): AWS's rounding, units per key for
a known number of sales, the model against the real services, and a tiny run that adds up."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bench import bench_saturday as sat


@pytest.fixture(scope="module")
def sizes():
    return sat.measure_sizes()


def test_capacity_units_follow_the_aws_rounding_rules():
    assert [sat.wcu(n) for n in (0, 1, 1024, 1025, 2048, 2049)] == [1, 1, 1, 2, 2, 3]
    assert [sat.rcu(n) for n in (0, 4096, 4097, 100_000)] == [1, 1, 2, 25]
    assert sat.query_rcu(0) == 1.0 and sat.query_rcu(0, consistent=False) == 0.5
    assert sat.query_rcu(100 * 1060) == 26.0  # 106,000 B in one page: 26 units of 4 KB
    assert sat.query_rcu(3 * sat.PAGE_BYTES) == 3 * 256.0  # 1 MB pages, 256 units each
    assert sat.query_rcu(8192, consistent=False) == 1.0


def test_the_measured_items_are_those_of_the_real_write_path(sizes):
    # A sale is just over 1 KB (2 write units); its claim, cursor, pointer and event fit in 1 KB.
    assert 1024 < sizes.sale < 2048
    assert sizes.receipt_claim < 1024 and sizes.cursor < 1024 and sizes.pointer < 1024
    assert sizes.event < 1024
    assert sizes.checkpoint_base + sizes.frontier_hash * 20 < 4096  # a checkpoint is one read unit


def _one_register_day(sizes, seconds):
    plan = sat.TenantPlan(1, "shop", [list(seconds)], tick_offset=0)
    meter = sat.Meter(key_totals={})
    day = sat.TenantDay(plan, meter, sizes, history_days=0, weekday_ratio=0.0, containers=1,
                        rnd=random.Random(0), fresh=True)
    return day, meter


def test_three_sales_give_the_expected_units_per_key(sizes):
    """Three sales on one new register, each alone in its stream batches, no scheduled work: every
    key's units computed by hand from the item sizes."""
    day, meter = _one_register_day(sizes, (36_000, 36_060, 36_120))
    for sec in (36_000, 36_060, 36_120):
        day.sec = sec
        day.sale(0)
        day.pending_events = 0
        day.journal_batch(0, 1)
        day.events_batch(day.pending_events)
    day._close_all()
    day.publish()
    t = meter.key_totals
    tenant = sat.tenant_id_of(1)
    chain = f"TENANT#{tenant}#CHAIN#prod.sales.R1"
    events = f"TENANT#{tenant}#CHAIN#events"
    sale_w = 2 * sat.wcu(sizes.sale)  # transaction x2; no index copy (no LSI: decision 0027)
    assert sale_w == 4
    # the register's journal partition: 3 seals, and one head read (the process's first sale)
    assert t[("journal", chain)] == [3 * sale_w, 1]
    assert t[("ops", f"RECEIPT#{tenant}#prod.sales.R1")] == [3 * 2 * sat.wcu(sizes.receipt_claim), 0]
    # access check: membership + tenant per sale, and the anomaly rules' tenant read per event
    assert t[("accounts", f"TENANT#{tenant}")] == [0, 3 * (2 + 1)]
    assert t[("accounts", f"USER#{sat.seller_of(1, 1)}")] == [0, 3]
    assert t[("accounts", f"SESSION#{sat.session_of(1, 1)}")] == [0, 3]
    # derivation: cursor read twice and written once per batch; events x2; head pointer
    assert t[("ops", f"DERIVED#{chain}")] == [3 * 2 * sat.wcu(sizes.cursor), 3 * 2]
    assert t[("events", events)] == [3 * 2 * sat.wcu(sizes.event), 1]  # + the writer's first head read
    assert t[("ops", f"HEAD#{events}")] == [3 * 2 * sat.wcu(sizes.pointer), 1]
    # the verifier's state item grows by one pending entry per sale; each UpdateItem is charged on
    # the whole item after the update, each GetItem on the item before it (missing: 1 unit)
    u = day.u
    sizes_after = []
    size = sizes.state_base + sizes.state_pending_attr + sizes.state_since
    for seq in (1, 2, 3):
        size += u.sale_entry[len(str(seq))]
        sizes_after.append(size)
    assert t[("ops", f"CHAIN#{chain}")] == [sum(sat.wcu(x) for x in sizes_after),
                                             1 + sat.rcu(sizes_after[0]) + sat.rcu(sizes_after[1])]
    assert sum(sat.wcu(x) for x in sizes_after) == 2 + 3 + 4  # 1.4 KB, 2.5 KB, 3.6 KB
    # the chain directory: one put by the API process, one by each stream process
    assert sum(meter.chains_w) == 3
    assert meter.requests[("api", "TransactWriteItems")] == 3


def test_with_pending_items_the_state_item_stays_small(sizes):
    """The same three sales with the pending lines as items of their own (``PENDING#<chain>``): one
    put per line, a small state item, and every state read queries the lines waiting."""
    plan = sat.TenantPlan(1, "shop", [[36_000, 36_060, 36_120]], tick_offset=0)
    meter = sat.Meter(key_totals={})
    day = sat.TenantDay(plan, meter, sizes, history_days=0, weekday_ratio=0.0, containers=1, rnd=random.Random(0),
                        fresh=True, units=sat.Units(sizes, False, "items", "paged"))
    for sec in (36_000, 36_060, 36_120):
        day.sec = sec
        day.sale(0)
        day.pending_events = 0
        day.journal_batch(0, 1)
        day.events_batch(day.pending_events)
    day._close_all()
    day.publish()
    t = meter.key_totals
    chain = f"TENANT#{sat.tenant_id_of(1)}#CHAIN#prod.sales.R1"
    line_item = sat.pending_item_size(chain, 1, sizes.sale_line - 4)
    assert 1024 < line_item < 2048
    assert t[("ops", f"PENDING#{chain}")] == [3 * 2, sat.rcu(line_item) + sat.query_rcu(2 * line_item)]
    assert t[("ops", f"CHAIN#{chain}")] == [3 * 1, 3]  # three small updates, three state reads


def test_a_full_segment_is_flushed_and_the_state_item_shrinks(sizes):
    seconds = [36_000 + i for i in range(sat.SEGMENT_ENTRIES)]
    day, meter = _one_register_day(sizes, seconds)
    for sec in seconds:
        day.sec = sec
        day.sale(0)
        day.pending_events = 0
        day.journal_batch(0, 1)
        day.events_batch(day.pending_events)
    reg = day.regs[0]
    assert reg.segments == 1 and not reg.pend and reg.pbytes == 0
    assert day.ev.segments == 1
    assert meter.calls["S3 PUT"] == 2 * 2 + 1  # per chain a segment and a manifest; one inline checkpoint
    assert meter.calls["KMS Sign"] == 1  # the 100th sale signs inline
    # the 100th UpdateItem rewrote ~100 archive lines: over 100 write units for one sale
    assert day.mw[reg.k_state] > 100


def test_the_model_agrees_with_the_real_services(sizes):
    plan = sat.make_plan(2, seed=11, median_sales=25)
    calib = sat.calibrate(plan, sizes)
    assert calib.sales == sum(len(s) for tp in plan for s in tp.registers) > 20
    assert calib.real_w > 0 and calib.real_r > 0
    assert abs(calib.model_w / calib.real_w - 1) < 0.01
    assert abs(calib.model_r / calib.real_r - 1) < 0.01
    assert calib.max_key_error < 0.05
    # the real services made the requests the write path is known for
    assert calib.real_calls["BatchGetItem"] == calib.sales
    assert calib.real_calls["TransactWriteItems"] >= 2 * calib.sales  # seal + event derivation


def test_a_tiny_saturday_adds_up(sizes):
    cfg = sat.Config(tenants=3, seed=5, history_days=30)
    meter = sat.run_saturday(cfg, sizes)
    plan = sat.make_plan(3, seed=cfg.seed * 1_000_003 + 1, first=1)
    assert meter.sales == sum(len(s) for tp in plan for s in tp.registers)
    assert meter.tenants == 3 and meter.registers == sum(len(tp.registers) for tp in plan)
    assert sum(meter.sales_per_second) == meter.sales
    # the per-second load adds up to the per-part totals (nothing charged twice or lost)
    assert sum(meter.w) == pytest.approx(sum(meter.wcu_by.values()), rel=1e-9)
    assert sum(meter.r) == pytest.approx(sum(meter.rcu_by.values()), rel=1e-9)
    assert meter.wcu_by["api: seal (entry + claim)"] == meter.sales * (4 + 2 * sat.wcu(sizes.receipt_claim))
    assert meter.rcu_by["api: access check"] == 4 * meter.sales
    assert meter.peaks_w and all(p.units <= sat.WCU_PER_KEY for p in meter.peaks_w.values())
    lines = sat.day_cost(meter, cfg, app_ms=0.5)
    assert all(line.usd >= 0 for line in lines)
    assert sum(line.usd for line in lines if line.group == "sales") > 0


def test_a_time_range_costs_its_search_reads_then_its_page():
    """Decision 0027 (no time index): the counting store charges what DynamoDBChainStore.by_time
    sends, the head and the search's one-item Queries (1 unit each) then one consistent page, and
    returns what the in-memory store returns."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.adapters.memory_chain_store import InMemoryChainStore
    from chalicelib.domain.records import chain_key
    from chalicelib.services.sealing import ChainWriter

    inner, meter = InMemoryChainStore(), sat.RealMeter()
    store = sat.CountingChainStore(inner, "events", meter)
    now = [datetime(2026, 12, 12, 8, tzinfo=UTC)]
    writer = ChainWriter(store, clock=lambda: now[0])
    for n in range(1, 301):
        now[0] += timedelta(minutes=1)
        writer.append("t1", "events", "sale_recorded", {"n": n}, training=False)
    key = chain_key("t1", "events")
    start, end = "2026-12-12T12:00:00.000000Z", "2026-12-12T13:00:00.000000Z"  # seqs 240-299 of 300
    meter.on = True
    got = store.by_time(key, start, end, limit=2000)
    assert got == inner.by_time(key, start, end, limit=2000)
    assert [r.seq for r in got] == list(range(240, 300))
    page = meter.totals[("events", key)][1] - meter.calls["Query"] + 1
    assert meter.calls["Query"] == 1 + 12 + 1  # the head, 12 probes (2 log2 61 = 11.9), the page
    assert page == sat.query_rcu(sum(store._size(key, s) for s in range(240, 301)))  # up to the head
    probes, pages, units = sat.time_range_reads(60, 200, limit=2000)
    assert (probes, pages) == (meter.calls["Query"] - 1, 1)
    assert units == probes + sat.query_rcu(61 * 200)


def test_python_m_bench_gets_the_small_scale():
    assert sat.parse_options([]).scale == 0.1  # how bench/__main__.py calls main
    assert sat.parse_options(["--tenants", "50"]).scale == 1.0


# ---- scheduled work (decision 0028) ------------------------------------------------------------------
def test_the_scheduled_work_constants_are_those_of_the_code():
    from chalicelib.adapters.work_queue import MAX_BATCH
    from chalicelib.resources import RESOURCES
    from chalicelib.services import scheduled_work
    from infra.stacks.functions import TIMEOUTS

    assert sat.SLICE_ENTRIES == scheduled_work.ChainVerificationWork.SLICE_ENTRIES
    assert sat.FULL_PASS_EVERY_HOURS == scheduled_work.FULL_PASS_EVERY_HOURS
    assert sat.QUEUE_BATCH == MAX_BATCH
    from chalicelib.services.ledger import NEXT_DUE_PAGE

    assert sat.NEXT_DUE_PAGE == NEXT_DUE_PAGE
    consumers = {q.consumer: q.consumer_timeout_seconds for q in RESOURCES.queues}
    assert {w: sat.TIMEOUT_S[w] for w in sat.WORKERS.values()} == consumers
    assert all(sat.TIMEOUT_S[d] == TIMEOUTS[d] for d in sat.DISPATCHERS.values())


def _register_pass(sizes, *, history, new, resume=True, cps_per_entry=0.5):
    """One register chain of ``history`` + ``new`` entries, a checkpoint every 1/cps_per_entry
    entries in the history and one per 5 minutes of the hour (12) among the new ones."""
    head = history + new
    hist_cps = int(history * cps_per_entry)

    def cps_from(x):
        old = -(-hist_cps * (history - max(x, 1) + 1) // history) if x <= history else 0
        return old + 12

    cp = sat.checkpoint_size(sizes, head)
    return sat.verify_pass(sizes, events=False, head=head, resume_from=history + 1 if resume else None,
                           cps_from=cps_from, cp_bytes=cp, item=sizes.sale,
                           head_r=sat.rcu(sizes.sale)), cp


def test_an_incremental_pass_reads_the_new_entries_not_the_history(sizes):
    """An hourly unit reads from the checkpoint the previous pass proved: the anchor and its entry,
    the checkpoints from it on, the hour's entries, then the head and its witnesses. Its DynamoDB
    reads do not grow with the history, nor does the LIST of archived checkpoints (from the
    checkpoint the pass proved on: one page)."""
    (small,), cp = _register_pass(sizes, history=60_000, new=20)
    (big,), _ = _register_pass(sizes, history=600_000, new=20)
    fixed = (2  # derivation: head, cursor
             + 2  # the VERIFIED# mark and the checkpoint it names
             + 1  # the head (_slice_end)
             + 1 + 1 + 1  # keys, the anchor again, its entry
             + 1 + 1 + sat.rcu(sizes.state_base + sizes.state_archived) + 1)  # head, latest, state, probe
    assert small.rcu == fixed + sat.query_rcu(13 * cp) + sat.query_rcu(20 * sizes.sale)
    assert big.rcu == small.rcu
    assert small.wcu == big.wcu == 2  # the pass mark: a failed put_once (charged), then UpdateItem
    assert small.requests["S3 LIST"] == big.requests["S3 LIST"] == 1 + 1  # the archive's head; the newest checkpoint
    assert small.requests["SQS SendMessage"] == 0
    assert small.bytes == 13 * cp + 20 * sizes.sale
    # with nothing new (a night hour) it still reads the anchor and the witnesses
    (idle,), idle_cp = _register_pass(sizes, history=60_000, new=0)
    assert idle.rcu == fixed + sat.query_rcu(13 * idle_cp) + 1  # an empty Query still costs 1


def test_a_long_full_pass_is_sliced_and_each_slice_sends_its_continuation(sizes):
    units, cp = _register_pass(sizes, history=449_980, new=20, resume=False)
    assert len(units) == 3  # 200,000 + 200,000 + 50,000 entries
    assert [u.requests["SQS SendMessage"] for u in units] == [1, 1, 0]
    # only the first unit derives and reads no anchor; the last compares the head with its witnesses
    assert units[0].requests["GetItem"] == 1 and units[1].requests["GetItem"] == 1  # cursor; anchor entry
    assert [u.requests["S3 HEAD"] for u in units] == [0, 0, 1]
    assert [u.wcu for u in units] == [0, 0, 2]
    # each slice reads its entries and lists the checkpoints from its start to the end of the chain
    # twice (_slice_end, then the verification service); the last slice lists them once
    hist_cps = int(449_980 * 0.5)

    def from_(x):  # the checkpoints of size >= x (the helper's even spread)
        return -(-hist_cps * (449_980 - x + 1) // 449_980) + 12

    assert units[0].bytes == 2 * (hist_cps + 12) * cp + sat.SLICE_ENTRIES * sizes.sale
    assert units[1].bytes == (from_(200_001) + from_(200_000)) * cp + sat.SLICE_ENTRIES * sizes.sale
    assert units[2].bytes - 50_000 * sizes.sale < units[1].bytes - sat.SLICE_ENTRIES * sizes.sale
    # each unit fits its 900 s, though the chain as one would read ~480 MB
    assert all(u.seconds < sat.TIMEOUT_S["verify_chain"] for u in units)
    whole, _ = _register_pass(sizes, history=100_000, new=20, resume=False)
    assert len(whole) == 1


def test_an_events_full_pass_reads_its_archived_segments(sizes):
    units = sat.verify_pass(sizes, events=True, head=10_000, resume_from=None, cps_from=lambda x: 10, cp_bytes=600,
                            item=sizes.event, head_r=1, hot_first=7_001, segments_per_entry=0.02,
                            segment_bytes=50_000)
    (u,) = units
    assert u.requests["S3 GET"] == u.requests["KMS Decrypt"] == 1 + 140  # the index, 7,000 entries / 50
    assert u.rcu == (1 + 1 + sat.query_rcu(6_000) + sat.query_rcu(3_000 * sizes.event)
                     + 1 + 1 + sat.rcu(sizes.state_base + sizes.state_archived) + 1)  # no derivation
    incremental = sat.verify_pass(sizes, events=True, head=10_000, resume_from=9_981, cps_from=lambda x: 2,
                                  cp_bytes=600, item=sizes.event, head_r=1, hot_first=7_001,
                                  segments_per_entry=0.02, segment_bytes=50_000)[0]
    assert incremental.requests["S3 GET"] == incremental.requests["KMS Decrypt"] == 0


def test_the_saturday_hours_are_the_schedule_windows_of_the_week():
    weeks = [sat.hour_of_week(h) for h in range(24)]
    assert weeks[0] == 4 * 24 + 23  # Saturday 0:00 in Brussels is Friday 23:00 UTC
    assert weeks == list(range(weeks[0], weeks[0] + 24))


class _CountingSqs:
    def __init__(self):
        self.batches = []

    def get_queue_url(self, QueueName):
        return {"QueueUrl": QueueName}

    def send_message_batch(self, QueueUrl, Entries):
        self.batches.append((QueueUrl, Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_a_tiny_saturday_charges_the_schedules_as_the_real_dispatcher_sends(sizes):
    """The model's dispatcher runs and units against the real ``WorkDispatcher`` and
    ``SqsWorkQueues`` on the same chains: SendMessageBatch calls, units per run, and the weekly
    full passes that fall on the day."""
    import json
    import math

    from chalicelib.adapters.chain_directory import InMemoryChainDirectory
    from chalicelib.adapters.work_queue import SqsWorkQueues
    from chalicelib.services.scheduled_work import WorkDispatcher

    cfg = sat.Config(tenants=6, seed=5, history_days=30)
    meter = sat.run_saturday(cfg, sizes)
    chains = meter.registers + meter.tenants
    directory = InMemoryChainDirectory()
    for tp in sat.make_plan(6, seed=cfg.seed * 1_000_003 + 1, first=1):
        directory.register(sat.tenant_id_of(tp.n), "events")
        for i in range(len(tp.registers)):
            directory.register(sat.tenant_id_of(tp.n), f"prod.sales.R{i + 1}")
    sqs = _CountingSqs()
    queues = SqsWorkQueues(sqs, {"sign": "sign-work", "close": "close-work", "verify": "verify-work"})
    dispatcher = WorkDispatcher(directory=directory, queues=queues)
    full = 0
    for h in range(24):
        when = datetime(2026, 12, 12, h, tzinfo=ZoneInfo("Europe/Brussels")).astimezone(UTC)
        sqs.batches.clear()
        run = dispatcher.dispatch("verify", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert run.sent == chains
        assert len(sqs.batches) == meter.dispatch["verify"].requests["SQS SendMessageBatch"] == math.ceil(chains / 10)
        full += sum(json.loads(e["MessageBody"])["full"] for _, entries in sqs.batches for e in entries)
    assert meter.full_passes == full
    sqs.batches.clear()
    assert dispatcher.dispatch("close", "2026-12-12T03:00:00Z").sent == meter.registers
    assert len(sqs.batches) == meter.dispatch["close"].requests["SQS SendMessageBatch"]
    # units: every chain every 5 minutes, every register and chain every hour (+ continuations)
    assert meter.units["sign"] == 288 * chains
    assert meter.units["close"] == 24 * meter.registers
    assert meter.units["verify"] == 24 * chains + meter.continuations
    for job in sat.WORKERS:
        runs = sat.RUNS_PER_DAY[job]
        assert meter.sqs[job, "SendMessageBatch"] == runs * meter.dispatch[job].requests["SQS SendMessageBatch"]
        assert meter.sqs[job, "ReceiveMessage"] == meter.sqs[job, "DeleteMessage"] == meter.units[job]
    assert meter.sqs["verify", "SendMessage"] == meter.continuations
    lines = {line.item: line for line in sat.day_cost(meter, cfg, app_ms=0.5)}
    sqs_lines = [line for item, line in lines.items() if item.startswith("SQS")]
    assert sum(line.quantity for line in sqs_lines) == sum(meter.sqs.values())
    assert sum(line.usd for line in sqs_lines) == pytest.approx(sum(meter.sqs.values()) * 0.50 / 1e6)
    # every worker's longest unit is known and within its timeout at this size
    assert set(meter.longest) == set(sat.WORKERS.values())
    assert all(0 < seconds < sat.TIMEOUT_S[w] for w, (seconds, _) in meter.longest.items())


def test_the_hourly_verification_reads_a_fraction_of_the_history(sizes):
    """Per day, the incremental passes read about the day's entries and the full passes about 1/7
    of the chains' history: far below the 24 full re-reads a day of the former verify_chains."""
    cfg = sat.Config(tenants=20, seed=3, history_days=365)
    meter = sat.run_saturday(cfg, sizes)
    incremental = meter.rcu_by["hourly: verify_chain (incremental)"]
    full = meter.rcu_by["hourly: verify_chain (weekly full pass)"]
    assert meter.full_passes > 0 and incremental > 0
    # an incremental unit reads ~15 units plus its hour's entries; a full pass reads the history
    assert incremental / meter.units["verify"] < 40
    assert full / meter.full_passes > 1_000
    assert meter.wcu_by["hourly: verify_chain (pass marks)"] == 2 * (meter.units["verify"] - meter.continuations)
