"""The Saturday simulation's accounting (bench/bench_saturday.py): AWS's rounding, units per key for
a known number of sales, the model against the real services, and a tiny run that adds up."""

from __future__ import annotations

import random

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
    sale_w = 2 * sat.wcu(sizes.sale) + sat.wcu(sizes.sale)  # transaction x2 + LSI
    assert sale_w == 6
    # the register's journal partition: 3 seals, and one head read (the process's first sale)
    assert t[("journal", chain)] == [3 * sale_w, 1]
    assert t[("ops", f"RECEIPT#{tenant}#prod.sales.R1")] == [3 * 2 * sat.wcu(sizes.receipt_claim), 0]
    # access check: membership + tenant per sale, and the anomaly rules' tenant read per event
    assert t[("accounts", f"TENANT#{tenant}")] == [0, 3 * (2 + 1)]
    assert t[("accounts", f"USER#{sat.seller_of(1, 1)}")] == [0, 3]
    assert t[("accounts", f"SESSION#{sat.session_of(1, 1)}")] == [0, 3]
    # derivation: cursor read twice and written once per batch; events x2 + LSI; head pointer
    assert t[("ops", f"DERIVED#{chain}")] == [3 * 2 * sat.wcu(sizes.cursor), 3 * 2]
    assert t[("events", events)] == [3 * 3 * sat.wcu(sizes.event), 1]  # + the writer's first head read
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
    assert meter.wcu_by["api: seal (entry + LSI + claim)"] == meter.sales * (6 + 2 * sat.wcu(sizes.receipt_claim))
    assert meter.rcu_by["api: access check"] == 4 * meter.sales
    assert meter.peaks_w and all(p.units <= sat.WCU_PER_KEY for p in meter.peaks_w.values())
    lines = sat.day_cost(meter, cfg, app_ms=0.5)
    assert all(line.usd >= 0 for line in lines)
    assert sum(line.usd for line in lines if line.group == "sales") > 0


def test_python_m_bench_gets_the_small_scale():
    assert sat.parse_options([]).scale == 0.1  # how bench/__main__.py calls main
    assert sat.parse_options(["--tenants", "50"]).scale == 1.0
