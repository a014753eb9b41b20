from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from chalicelib.domain.canonical import check
from chalicelib.domain.closures import (
    ClosureAccumulator,
    ClosureCheck,
    ClosureMismatch,
    ResumedClosureCheck,
    check_follows,
    check_rollup,
    closure_payload,
    closure_runs,
)
from chalicelib.domain.entries import Actor
from chalicelib.domain.errors import Conflict
from chalicelib.domain.journal import build_journal_entry
from chalicelib.domain.merkle import CompactRange, record_leaf_hash, root
from chalicelib.domain.records import GENESIS_PREV_HASH, seal
from chalicelib.domain.reversals import reversal_of
from chalicelib.domain.sales import build_sale
from chalicelib.domain.verification import ChainHead, verify_chain

PARIS = "Europe/Paris"
FOUR = time(4, 0)
SELLER = Actor("u-alice", "Alice")
SYSTEM = Actor("system", "Automatic closure")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


class Chain:
    """A sales chain built in memory: records are sealed as they are appended."""

    def __init__(self, name="prod.sales.R1"):
        self.name = name
        self.records = []
        self.latest = {}

    def append(self, record_type, data, at):
        prev = self.records[-1].hash if self.records else GENESIS_PREV_HASH
        record = seal("t-1", self.name, len(self.records) + 1, record_type, at, False, data, prev)
        self.records.append(record)
        return record

    def sale(self, at, *prices, rate="20", kind="sale"):
        sign = "-" if kind == "return" else ""
        lines = [
            {"description": "Item", "quantity": f"{sign}1", "unit_price": price, "vat_rate": rate} for price in prices
        ]
        total = sum(Decimal(price) for price in prices)
        body = {
            "kind": kind,
            "client_receipt_id": f"C{len(self.records) + 1}",
            "register_id": "R1",
            "occurred_at": at,
            "lines": lines,
            "payments": [{"method": "card", "amount": f"{sign}{total}"}],
        }
        payload = build_sale(body, country="FR", time_zone=PARIS, cutoff=FOUR, seller=SELLER, now=at)
        return self.append("sale", payload, at)

    def reverse(self, record, at):
        return self.append("reversal", reversal_of(record, "Mistake", SELLER, at, reversed_seqs=()), at)

    def root(self):
        return root([record_leaf_hash(record.hash) for record in self.records]).hex()

    def accumulator(self, kind, start):
        accumulator = ClosureAccumulator.following(self.latest.get(kind), kind, start, time_zone=PARIS, cutoff=FOUR)
        for record in self.records[accumulator.first_seq - 1 :]:
            if not accumulator.add(record):
                break
        return accumulator

    def close(self, kind, start, at, **changes):
        accumulator = self.accumulator(kind, start)
        payload = closure_payload(
            accumulator, merkle_root=self.root(), merkle_tree_size=len(self.records), closed_by=SYSTEM, now=at
        )
        payload.update(changes)
        self.latest[kind] = payload
        self.append("closure", payload, at)
        return payload

    def rewrite(self, seq, change):
        """Rewrite-and-rehash from ``seq`` on: what an attacker with table access could do."""
        items = [record.to_dict() for record in self.records]
        change(items[seq - 1]["data"])
        self.records = []
        for item in items:
            self.append(item["type"], item["data"], item["recorded_at"])


def closure_report(records):
    checker = ClosureCheck()
    for record in records:
        report = checker.check(record)
        if report is not None:
            return record.seq, *report
    return None


def verify(chain):
    return verify_chain(chain.records, tenant_id="t-1", chain=chain.name, extra_checks=[ClosureCheck()])


def busy_day():
    """23 November 2026 in Paris (cut-off 04:00): sales, a return, a reversal, then the next day."""
    chain = Chain()
    first = chain.sale(utc(2026, 11, 23, 8, 0), "12.00", "3.00")
    chain.sale(utc(2026, 11, 23, 9, 0), "5.50", rate="5.5")
    chain.sale(utc(2026, 11, 23, 10, 0), "3.00", kind="return")
    chain.reverse(first, utc(2026, 11, 23, 11, 0))
    chain.sale(utc(2026, 11, 24, 2, 59, 59), "10.00")  # 03:59:59 local: still the 23rd
    chain.sale(utc(2026, 11, 24, 3, 0), "7.00")  # 04:00 local: the 24th
    return chain


# --- building a day closure ----------------------------------------------------------------------


def test_a_day_closure_counts_the_entries_and_totals_them_per_vat_rate():
    chain = busy_day()
    closure = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    assert closure["entry_count"] == 5
    assert closure["counts"] == {"sale": 3, "return": 1, "journal": 0, "reversal": 1}
    assert closure["vat_totals"] == [
        {"rate": 2000, "excl": 583, "vat": 117, "incl": 700},  # 15.00 - 3.00 - 15.00 + 10.00
        {"rate": 550, "excl": 521, "vat": 29, "incl": 550},
    ]
    assert closure["period_grand_total"] == 1250
    assert closure["perpetual_grand_total"] == 1250
    assert closure["journal_totals"] == {"debit": 0, "credit": 0}
    check(closure)


def test_a_day_closure_records_its_period_range_and_merkle_root():
    chain = busy_day()
    expected_root = chain.root()
    closure = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    assert {
        name: closure[name]
        for name in (
            "schema_version",
            "kind",
            "period",
            "time_zone",
            "business_day_cutoff",
            "period_start",
            "period_end",
            "first_seq",
            "last_seq",
            "merkle_tree_size",
            "merkle_root",
            "closed_by",
        )
    } == {
        "schema_version": 1,
        "kind": "day",
        "period": "2026-11-23",
        "time_zone": PARIS,
        "business_day_cutoff": "04:00:00",
        "period_start": "2026-11-23T03:00:00.000000Z",
        "period_end": "2026-11-24T03:00:00.000000Z",
        "first_seq": 1,
        "last_seq": 5,
        "merkle_tree_size": 6,
        "merkle_root": expected_root,
        "closed_by": {"user_id": "system", "name": "Automatic closure"},
    }


def test_the_first_entry_recorded_at_the_period_end_stops_the_accumulator():
    chain = busy_day()
    accumulator = ClosureAccumulator("day", date(2026, 11, 23), time_zone=PARIS, cutoff=FOUR)
    assert [accumulator.add(record) for record in chain.records] == [True] * 5 + [False]
    assert (accumulator.last_seq, accumulator.ended) == (5, True)
    assert accumulator.add(chain.records[-1]) is False


def test_closures_and_events_inside_the_range_are_not_counted():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.append("event", {"kind": "login"}, utc(2026, 11, 23, 9))
    chain.sale(utc(2026, 11, 23, 10), "2.00")
    closure = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 5))
    assert (closure["entry_count"], closure["first_seq"], closure["last_seq"]) == (2, 1, 3)


def test_a_period_without_entries_gives_an_empty_range():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 5))
    closure = chain.close("day", date(2026, 11, 24), utc(2026, 11, 25, 5))
    assert (closure["first_seq"], closure["last_seq"], closure["entry_count"]) == (2, 1, 0)
    assert (closure["vat_totals"], closure["period_grand_total"], closure["perpetual_grand_total"]) == (
        [],
        0,
        100,
    )


def test_an_entry_recorded_before_the_period_means_an_earlier_period_is_still_open():
    chain = busy_day()
    accumulator = ClosureAccumulator("day", date(2026, 11, 24), time_zone=PARIS, cutoff=FOUR)
    with pytest.raises(Conflict) as caught:
        accumulator.add(chain.records[0])
    assert caught.value.field == "period"
    assert "close the earlier period first" in caught.value.detail


def test_records_must_be_fed_in_seq_order_without_gaps():
    chain = busy_day()
    accumulator = ClosureAccumulator("day", date(2026, 11, 23), time_zone=PARIS, cutoff=FOUR)
    accumulator.add(chain.records[0])
    with pytest.raises(ValueError, match="expected 2, got 3"):
        accumulator.add(chain.records[2])


def test_a_period_that_has_not_ended_cannot_be_closed():
    chain = busy_day()
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    accumulator = chain.accumulator("day", date(2026, 11, 24))
    with pytest.raises(Conflict) as caught:
        closure_payload(
            accumulator,
            merkle_root=chain.root(),
            merkle_tree_size=7,
            closed_by=SYSTEM,
            now=utc(2026, 11, 25, 2, 59),
        )
    assert caught.value.field == "period"
    assert "is still open: it ends at 2026-11-25T03:00:00.000000Z" in caught.value.detail


def test_the_accumulator_must_be_fed_up_to_the_head_it_closes_at():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.sale(utc(2026, 11, 23, 9), "1.00")
    accumulator = ClosureAccumulator("day", date(2026, 11, 23), time_zone=PARIS, cutoff=FOUR)
    accumulator.add(chain.records[0])
    with pytest.raises(ValueError, match="feed every record up to the head"):
        closure_payload(
            accumulator,
            merkle_root=chain.root(),
            merkle_tree_size=2,
            closed_by=SYSTEM,
            now=utc(2026, 11, 24, 5),
        )


def test_the_next_closure_starts_after_the_previous_range_and_carries_its_perpetual_total():
    chain = busy_day()
    first = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    second = chain.close("day", date(2026, 11, 24), utc(2026, 11, 25, 3, 30))
    assert (second["first_seq"], second["last_seq"], second["entry_count"]) == (6, 6, 1)
    assert second["period_grand_total"] == 700
    assert second["perpetual_grand_total"] == first["perpetual_grand_total"] + 700 == 1950
    check_follows(first, second)


def test_a_period_is_closed_once_and_in_order():
    chain = busy_day()
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    for start in (date(2026, 11, 23), date(2026, 11, 22)):
        with pytest.raises(Conflict) as caught:
            chain.accumulator("day", start)
        assert (caught.value.field, "closed once, in order" in caught.value.detail) == ("period", True)


def test_a_month_period_must_start_on_the_first():
    with pytest.raises(Exception, match="starts on its first day"):
        ClosureAccumulator("month", date(2026, 11, 2), time_zone=PARIS, cutoff=FOUR)


# --- time zones and clock changes ----------------------------------------------------------------


def test_the_spring_clock_change_makes_a_23_hour_business_day_and_the_closure_follows_it():
    chain = Chain()
    chain.sale(utc(2026, 3, 28, 3, 0), "1.00")  # 04:00 CET, first instant of the 28th
    chain.sale(utc(2026, 3, 29, 1, 59), "2.00")  # 03:59 CEST: still the 28th
    chain.sale(utc(2026, 3, 29, 2, 0), "4.00")  # 04:00 CEST: the 29th
    closure = chain.close("day", date(2026, 3, 28), utc(2026, 3, 29, 3))
    assert (closure["period_start"], closure["period_end"]) == (
        "2026-03-28T03:00:00.000000Z",
        "2026-03-29T02:00:00.000000Z",
    )
    assert (closure["entry_count"], closure["period_grand_total"]) == (2, 300)
    nxt = chain.close("day", date(2026, 3, 29), utc(2026, 3, 30, 3))
    assert (nxt["entry_count"], nxt["period_grand_total"], nxt["perpetual_grand_total"]) == (1, 400, 700)
    assert verify(chain).ok


def test_the_autumn_clock_change_makes_a_25_hour_business_day_and_the_closure_follows_it():
    chain = Chain()
    chain.sale(utc(2026, 10, 24, 2, 0), "1.00")  # 04:00 CEST on the 24th
    chain.sale(utc(2026, 10, 25, 2, 30), "2.00")  # 03:30 CET on the 25th: still the 24th
    chain.sale(utc(2026, 10, 25, 3, 0), "4.00")  # 04:00 CET: the 25th
    closure = chain.close("day", date(2026, 10, 24), utc(2026, 10, 25, 4))
    assert (closure["period_start"], closure["period_end"]) == (
        "2026-10-24T02:00:00.000000Z",
        "2026-10-25T03:00:00.000000Z",
    )
    assert (closure["entry_count"], closure["period_grand_total"]) == (2, 300)
    assert verify(chain).ok


# --- months, years and the perpetual total -------------------------------------------------------


def year_boundary():
    chain = Chain()
    chain.sale(utc(2025, 12, 31, 12), "10.00")
    chain.sale(utc(2026, 1, 1, 1), "5.00", rate="5.5")  # 02:00 local on 1 January: business day 31 Dec
    days = {2025: [chain.close("day", date(2025, 12, 31), utc(2026, 1, 1, 3, 30))]}
    months = {2025: [chain.close("month", date(2025, 12, 1), utc(2026, 1, 1, 3, 31))]}
    years = {2025: chain.close("year", date(2025, 1, 1), utc(2026, 1, 1, 3, 32))}
    chain.sale(utc(2026, 1, 1, 10), "20.00")
    chain.sale(utc(2026, 1, 1, 11), "10.00", kind="return")
    days[2026] = [chain.close("day", date(2026, 1, 1), utc(2026, 1, 2, 3, 30))]
    chain.sale(utc(2026, 1, 2, 10), "1.00")
    days[2026].append(chain.close("day", date(2026, 1, 2), utc(2026, 1, 3, 3, 30)))
    months[2026] = [chain.close("month", date(2026, 1, 1), utc(2026, 2, 1, 3, 30))]
    years[2026] = chain.close("year", date(2026, 1, 1), utc(2027, 1, 1, 3, 30))
    return chain, days, months, years


def test_the_perpetual_grand_total_is_never_reset_across_a_year_boundary():
    _, days, months, years = year_boundary()
    assert [day["perpetual_grand_total"] for day in days[2025] + days[2026]] == [1500, 2500, 2600]
    assert [month["perpetual_grand_total"] for month in months[2025] + months[2026]] == [1500, 2600]
    assert (years[2025]["period_grand_total"], years[2025]["perpetual_grand_total"]) == (1500, 1500)
    assert (years[2026]["period_grand_total"], years[2026]["perpetual_grand_total"]) == (1100, 2600)
    check_follows(years[2025], years[2026])


def test_a_sale_before_the_cutoff_on_new_years_night_belongs_to_the_old_year():
    _, days, _, years = year_boundary()
    assert days[2025][0]["period_end"] == "2026-01-01T03:00:00.000000Z"
    assert years[2025]["vat_totals"] == [
        {"rate": 2000, "excl": 833, "vat": 167, "incl": 1000},
        {"rate": 550, "excl": 474, "vat": 26, "incl": 500},
    ]


def test_month_and_year_closures_equal_the_sums_of_their_days_and_months():
    _, days, months, years = year_boundary()
    check_rollup(months[2025][0], days[2025])
    check_rollup(months[2026][0], days[2026])
    check_rollup(years[2025], months[2025])
    check_rollup(years[2026], months[2026])
    assert months[2026][0]["counts"] == {"sale": 2, "return": 1, "journal": 0, "reversal": 0}


def test_a_chain_with_day_month_and_year_closures_verifies():
    chain, *_ = year_boundary()
    report = verify(chain)
    assert report.ok, report.detail


def test_a_month_closure_that_differs_from_its_days_is_refused_naming_the_field():
    _, days, months, _ = year_boundary()
    altered = {**months[2026][0], "vat_totals": [dict(part) for part in months[2026][0]["vat_totals"]]}
    altered["vat_totals"][0]["vat"] += 1
    with pytest.raises(ClosureMismatch) as caught:
        check_rollup(altered, days[2026])
    assert caught.value.field == "vat_totals.0.vat"
    assert "but its day closures add up to" in caught.value.detail


def test_a_month_closure_with_another_perpetual_total_than_its_last_day_is_refused():
    _, days, months, _ = year_boundary()
    altered = {**months[2026][0], "perpetual_grand_total": 1}
    with pytest.raises(ClosureMismatch) as caught:
        check_rollup(altered, days[2026])
    assert caught.value.field == "perpetual_grand_total"


def test_day_closures_with_a_gap_do_not_make_a_month():
    _, days, months, _ = year_boundary()
    with pytest.raises(ClosureMismatch) as caught:
        check_rollup(months[2026][0], days[2026][1:])
    assert caught.value.field == "children.0.first_seq"
    assert "without gap or overlap" in caught.value.detail


def test_a_day_of_another_month_is_refused_in_a_month_rollup():
    _, days, months, _ = year_boundary()
    with pytest.raises(ClosureMismatch) as caught:
        check_rollup(months[2026][0], days[2025])
    assert (caught.value.field, "is not inside" in caught.value.detail) == ("children.0.period", True)


def test_a_closure_must_continue_the_perpetual_total_of_the_previous_one():
    chain = busy_day()
    first = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    second = chain.close("day", date(2026, 11, 24), utc(2026, 11, 25, 3, 30))
    with pytest.raises(ClosureMismatch) as caught:
        check_follows(first, {**second, "perpetual_grand_total": 700})
    assert caught.value.field == "perpetual_grand_total"
    assert "expected 1950 (previous perpetual 1250 + period 700)" in caught.value.detail
    with pytest.raises(ClosureMismatch) as caught:
        check_follows(first, {**second, "first_seq": 8})
    assert caught.value.field == "first_seq"


def test_journal_entries_and_their_reversals_add_to_the_journal_totals():
    chain = Chain("prod.journal")
    payload = build_journal_entry(
        {
            "journal_code": "OD",
            "piece_ref": "1",
            "piece_date": "2026-11-23",
            "label": "Transfer",
            "lines": [{"account": "512000", "debit": "50.00"}, {"account": "580000", "credit": "50.00"}],
        },
        country="FR",
        today=date(2026, 11, 23),
        recorded_by=SELLER,
    )
    entry = chain.append("journal", payload, utc(2026, 11, 23, 9))
    chain.reverse(entry, utc(2026, 11, 23, 10))
    closure = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 5))
    assert closure["counts"] == {"sale": 0, "return": 0, "journal": 1, "reversal": 1}
    assert closure["journal_totals"] == {"debit": 10000, "credit": 10000}
    assert (closure["vat_totals"], closure["period_grand_total"]) == ([], 0)
    assert verify(chain).ok


# --- ClosureCheck: re-computing closures during verification -------------------------------------


def closed_busy_day():
    chain = busy_day()
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))  # seq 7
    chain.sale(utc(2026, 11, 24, 9), "1.00")
    chain.close("day", date(2026, 11, 24), utc(2026, 11, 25, 3, 30))  # seq 9
    return chain


def test_the_closure_check_accepts_correct_closures():
    report = verify(closed_busy_day())
    assert (report.ok, report.size) == (True, 9)


def test_the_closure_check_finds_an_altered_vat_total_and_names_it():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data["vat_totals"][0].update(vat=168))
    report = verify(chain)
    assert (report.ok, report.reason, report.first_bad_seq) == (False, "closure_totals", 7)
    assert "day closure 2026-11-23: field vat_totals.0.vat (rate 2000) expected 117, found 168" in report.detail


def test_the_closure_check_finds_an_altered_period_grand_total():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(period_grand_total=1500, perpetual_grand_total=1500))
    assert closure_report(chain.records) == (
        7,
        "closure_totals",
        "day closure 2026-11-23: field period_grand_total expected 1250, found 1500",
    )


def test_the_closure_check_finds_a_perpetual_total_that_was_reset():
    chain = closed_busy_day()
    chain.rewrite(9, lambda data: data.update(perpetual_grand_total=data["period_grand_total"]))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (9, "closure_totals")
    assert "field perpetual_grand_total expected 2050" in detail
    assert "found 800" in detail


def test_the_closure_check_finds_an_altered_count():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data["counts"].update(reversal=0))
    assert closure_report(chain.records)[1:] == (
        "closure_totals",
        "day closure 2026-11-23: field counts.reversal expected 1, found 0",
    )


def test_the_closure_check_does_not_take_a_boolean_for_a_count():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 5))
    chain.rewrite(2, lambda data: data["counts"].update(sale=True))
    assert closure_report(chain.records)[1] == "closure_totals"


def test_the_closure_check_finds_a_closure_that_leaves_out_an_entry_of_its_period():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(last_seq=4))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (7, "closure_range")
    assert "field last_seq 4 leaves out entry 5, recorded at 2026-11-24T02:59:59.000000Z" in detail


def test_the_closure_check_finds_a_closure_covering_an_entry_of_the_next_period():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(last_seq=6))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (7, "closure_period")
    assert "covers entry 6 recorded at 2026-11-24T03:00:00.000000Z, not before period_end" in detail


def test_the_closure_check_finds_a_range_that_does_not_follow_the_previous_one():
    chain = closed_busy_day()
    chain.rewrite(9, lambda data: data.update(first_seq=7))
    assert closure_report(chain.records)[1:] == (
        "closure_range",
        "day closure 2026-11-24: field first_seq expected 6, found 7",
    )


def test_the_closure_check_finds_entries_of_an_unclosed_earlier_day():
    chain = Chain()
    chain.sale(utc(2026, 11, 22, 8), "1.00")
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    payload = closure_payload(
        ClosureAccumulator("day", date(2026, 11, 23), time_zone=PARIS, cutoff=FOUR),
        merkle_root=chain.root(),
        merkle_tree_size=0,
        closed_by=SYSTEM,
        now=utc(2026, 11, 24, 5),
    )
    payload.update(last_seq=2, merkle_tree_size=2, entry_count=2)
    chain.append("closure", payload, utc(2026, 11, 24, 5))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (3, "closure_period")
    assert "covers entry 1 recorded at 2026-11-22T08:00:00.000000Z, before period_start" in detail


def test_the_closure_check_finds_period_bounds_that_do_not_match_the_time_zone_and_cutoff():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(business_day_cutoff="05:00:00"))
    assert closure_report(chain.records)[1:] == (
        "closure_period",
        "day closure 2026-11-23: field period_start expected 2026-11-23T04:00:00.000000Z, "
        "found 2026-11-23T03:00:00.000000Z",
    )


def test_the_closure_check_finds_a_closure_recorded_before_its_period_ended():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 5))
    items = [record.to_dict() for record in chain.records]
    chain.records = chain.records[:1]
    chain.append("closure", items[1]["data"], utc(2026, 11, 23, 20))
    assert closure_report(chain.records)[1:] == (
        "closure_period",
        "day closure 2026-11-23: recorded at 2026-11-23T20:00:00.000000Z, before its period ends "
        "(2026-11-24T03:00:00.000000Z)",
    )


def test_the_closure_check_finds_a_wrong_merkle_root():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(merkle_root="0" * 64))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (7, "closure_merkle")
    assert "field merkle_root expected" in detail


def test_the_closure_check_finds_a_tree_size_that_is_not_the_closure_position():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.update(merkle_tree_size=5))
    assert closure_report(chain.records)[1:] == (
        "closure_merkle",
        "day closure 2026-11-23: field merkle_tree_size expected 6, found 5",
    )


def test_the_closure_check_reports_a_malformed_closure():
    chain = closed_busy_day()
    chain.rewrite(7, lambda data: data.pop("last_seq"))
    assert closure_report(chain.records)[1:] == ("closure_payload", "closure: data.last_seq is missing")


def test_the_closure_check_reports_an_entry_without_totals():
    chain = closed_busy_day()
    chain.rewrite(2, lambda data: data.pop("totals"))
    assert closure_report(chain.records) == (2, "entry_payload", "sale entry: data.totals is missing")


def test_the_closure_check_recomputes_month_closures_from_the_entries():
    chain, *_ = year_boundary()
    month_seq = next(r.seq for r in chain.records if r.type == "closure" and r.data["period"] == "2026-01")
    chain.rewrite(month_seq, lambda data: data.update(entry_count=4))
    assert closure_report(chain.records) == (
        month_seq,
        "closure_totals",
        "month closure 2026-01: field entry_count expected 3, found 4",
    )


def test_the_closure_check_finds_a_year_closure_with_a_reset_perpetual_total():
    chain, *_ = year_boundary()
    year_seq = chain.records[-1].seq
    chain.rewrite(year_seq, lambda data: data.update(perpetual_grand_total=1100))
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (year_seq, "closure_totals")
    assert "year closure 2026: field perpetual_grand_total expected 2600" in detail


def day_closed_after_its_month():
    chain = Chain()
    chain.sale(utc(2026, 11, 23, 8), "1.00")
    chain.sale(utc(2026, 11, 24, 8), "2.00")
    chain.close("month", date(2026, 11, 1), utc(2026, 12, 1, 5))
    chain.close("day", date(2026, 11, 23), utc(2026, 12, 1, 6))
    return chain


def test_the_closure_check_finds_a_day_closed_after_its_month_inside_the_month_range():
    chain = day_closed_after_its_month()
    seq, reason, detail = closure_report(chain.records)
    assert (seq, reason) == (4, "closure_range")
    assert "closures are written in order" in detail


def test_the_closure_check_memory_is_released_at_each_closure():
    chain = closed_busy_day()
    checker = ClosureCheck()
    for record in chain.records:
        assert checker.check(record) is None
    assert checker._buffer == []


def test_an_accumulator_cannot_follow_a_closure_of_another_kind():
    chain = busy_day()
    day = chain.close("day", date(2026, 11, 23), utc(2026, 11, 24, 3, 30))
    with pytest.raises(ValueError, match="not a 'month' one"):
        ClosureAccumulator.following(day, "month", date(2026, 11, 1), time_zone=PARIS, cutoff=FOUR)


# --- ResumedClosureCheck: closures met by a verification resumed from a checkpoint (decision 0031)


def resumed_report(chain, check_from):
    """What a verification resumed at ``check_from`` finds in the closures from there: the runs of
    ``closure_runs``, each from the chain's state at its start (as a signed checkpoint gives it),
    the earliest finding of all runs."""
    met = [(record.seq, record.data) for record in chain.records[check_from - 1 :] if record.type == "closure"]
    found = []
    for kind, after, through in closure_runs(met):
        compact = CompactRange()
        for record in chain.records[:after]:
            compact.append(record_leaf_hash(record.hash))
        start = ChainHead(after, chain.records[after - 1].hash, tuple(compact.to_state()[1])) if after else None
        check = ResumedClosureCheck(kind, check_from=check_from, from_start=start is None)
        report = verify_chain(chain.records[after:through], tenant_id="t-1", chain=chain.name, extra_checks=[check],
                              start=start)
        if not report.ok:
            seq = report.first_bad_seq
            found.append((seq, report.reason, report.detail.removeprefix(f"seq {seq}: ")))
    return min(found) if found else None


def test_a_resumed_check_accepts_every_correct_closure_wherever_it_resumes():
    for chain in (closed_busy_day(), year_boundary()[0]):
        for check_from in range(1, len(chain.records) + 1):
            assert resumed_report(chain, check_from) is None, check_from


def _month_seq(chain):
    return next(r.seq for r in chain.records if r.type == "closure" and r.data["period"] == "2026-01")


FORGED_CLOSURES = {
    "vat total": (closed_busy_day, 7, lambda data: data["vat_totals"][0].update(vat=168)),
    "period total": (closed_busy_day, 7, lambda data: data.update(period_grand_total=1500, perpetual_grand_total=1500)),
    "perpetual reset": (closed_busy_day, 9, lambda data: data.update(perpetual_grand_total=data["period_grand_total"])),
    "count": (closed_busy_day, 7, lambda data: data["counts"].update(reversal=0)),
    "leaves out an entry": (closed_busy_day, 7, lambda data: data.update(last_seq=4)),
    "covers the next period": (closed_busy_day, 7, lambda data: data.update(last_seq=6)),
    "range overlaps": (closed_busy_day, 9, lambda data: data.update(first_seq=7)),
    "cut-off": (closed_busy_day, 7, lambda data: data.update(business_day_cutoff="05:00:00")),
    "merkle root": (closed_busy_day, 7, lambda data: data.update(merkle_root="0" * 64)),
    "tree size": (closed_busy_day, 7, lambda data: data.update(merkle_tree_size=5)),
    "malformed": (closed_busy_day, 7, lambda data: data.pop("last_seq")),
    "unknown kind": (closed_busy_day, 9, lambda data: data.update(kind="week")),
    "month from its entries": (lambda: year_boundary()[0], None, lambda data: data.update(entry_count=4)),
    "year perpetual": (lambda: year_boundary()[0], -1, lambda data: data.update(perpetual_grand_total=1100)),
}


@pytest.mark.parametrize("name", FORGED_CLOSURES)
def test_a_resumed_check_finds_what_the_full_check_finds_in_a_forged_closure(name):
    """Each forged closure (correctly hashed: rewritten and rehashed) is found by a verification
    resumed at any seq up to it, at the same seq, for the same reason and with the same words as
    the full check from seq 1."""
    build, seq, change = FORGED_CLOSURES[name]
    chain = build()
    seq = _month_seq(chain) if seq is None else chain.records[seq].seq if seq < 0 else seq
    chain.rewrite(seq, change)
    full = verify(chain)
    assert (full.ok, full.first_bad_seq) == (False, seq)
    for check_from in range(2, seq + 1):
        assert resumed_report(chain, check_from) == (seq, full.reason, full.detail.removeprefix(f"seq {seq}: ")), (
            check_from)
    # resumed past it: later closures (whose roots it changed), or itself when it is the unreadable
    # predecessor a later closure follows
    later = resumed_report(chain, seq + 1)
    assert later is None or later[0] > seq or later[1] == "closure_payload"


def test_a_closure_whose_range_starts_after_its_predecessor_s_is_found_without_the_predecessor():
    """first_seq pushed past the previous closure's record: the resumed run starts there, never
    meets the closure it must follow, and says so at the closure (the full check: expected 6)."""
    chain = closed_busy_day()
    chain.rewrite(9, lambda data: data.update(first_seq=8))
    assert verify(chain).reason == "closure_range"
    seq, reason, detail = resumed_report(chain, 8)
    assert (seq, reason) == (9, "closure_range")
    assert "no day closure comes between its first covered seq (8) and it" in detail


def test_closure_runs_read_back_to_where_each_kind_s_first_closure_begins():
    chain, *_ = year_boundary()
    closures = [(r.seq, r.data) for r in chain.records if r.type == "closure"]
    runs = closure_runs(closures[3:])  # met from the 2026 days on (seqs 8, 10, 11, 12)
    # each kind's first closure met covers from seq 3 (after the 2025 closures' last entry, 2)
    assert runs == [("day", 2, 10), ("month", 2, 11), ("year", 2, 12)]


def test_a_resumed_check_finds_a_day_closed_after_its_month_as_the_full_check_does():
    chain = day_closed_after_its_month()
    full = closure_report(chain.records)
    assert full[:2] == (4, "closure_range")
    assert all(resumed_report(chain, check_from) == full for check_from in range(1, 5))
