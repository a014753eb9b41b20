"""The terminal of ``scelle local`` for people (issue 16, item 2): the request line (alignment,
colours only on a terminal without NO_COLOR, tenant, long paths), log records with markers,
control characters never reaching the terminal, and the progress bar of the long commands."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime

import pytest

from chalicelib.local.terminal import (
    METHOD_WIDTH,
    PATH_WIDTH,
    Progress,
    Terminal,
    TextFormatter,
    clip_middle,
    colour_enabled,
    display_path,
    metrics_line,
    request_line,
    tenant_of,
)

AT = datetime(2026, 12, 5, 15, 2, 11)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


# ---- the request line -----------------------------------------------------------------------------
def test_a_request_line_has_time_method_path_status_duration_and_tenant():
    line = request_line("POST", "/v1/tenants/t3f2a9c0d1e2b/sales", 201, 12.4, at=AT)
    assert line == "15:02:11  POST     /v1/tenants/t3…/sales                     201     12 ms  t3f2a9c0…"


def test_request_lines_are_aligned_whatever_the_method_path_status_and_duration():
    lines = [
        request_line("GET", "/health", 200, 0.4, at=AT),
        request_line("OPTIONS", "/v1/tenants/tabc/exports", 204, 3, at=AT),
        request_line("DELETE", "/v1/tenants/t0123456789abcdef0123/members/u-1", 404, 1234.5, at=AT),
        request_line("POST", "/v1/" + "x" * 200, 503, 99999, at=AT),
    ]
    status_at = 8 + 2 + METHOD_WIDTH + 2 + PATH_WIDTH + 2
    for line in lines:
        assert re.fullmatch(r"\d{3}", line[status_at:status_at + 3]), line
        assert line[status_at + 3:status_at + 5] == "  " and line[status_at + 5:].lstrip()[0].isdigit(), line
        assert line.index(" ms") == status_at + 3 + 2 + 5, line
    assert [line[status_at:status_at + 3] for line in lines] == ["200", "204", "404", "503"]


@pytest.mark.parametrize(("target", "tenant"), [
    ("/v1/tenants/t3f2a/sales", "t3f2a"),
    ("/v1/tenants/t3f2a", "t3f2a"),
    ("/v1/tenants/t3f2a/entries/prod.sales.R1/4?proof=1", "t3f2a"),
    ("http://127.0.0.1:8000/v1/tenants/tq/events?cursor=abc", "tq"),
    ("/v1/tenants/", None),
    ("/v1/me", None),
    ("/health", None),
    ("/v1/verify/receipt?t=t3f2a&c=prod.sales.R1&s=1&h=00", None),  # a query is no path
])
def test_the_tenant_comes_from_the_path_only(target, tenant):
    assert tenant_of(target) == tenant
    line = request_line("GET", target, 200, 1, at=AT)
    assert line.endswith(f" ms  {tenant}" if tenant else " ms"), line


def test_the_path_loses_its_query_string_and_shows_a_short_tenant():
    assert display_path("/v1/tenants/t3f2a9c0d1e2b/entries?chain=prod.sales.R1&limit=5") == "/v1/tenants/t3…/entries"
    assert display_path("/v1/local/outbox?to=demo@scelle.local") == "/v1/local/outbox"


def test_a_long_path_is_cut_in_the_middle_keeping_its_start_and_end():
    path = "/v1/tenants/t3f2a9c0d1e2b/entries/prod.sales.register-of-the-back-room-42/123456/proof"
    shown = display_path(path)
    assert len(shown) == PATH_WIDTH
    assert shown.startswith("/v1/tenants/t3…/") and shown.endswith("/123456/proof")
    assert "…" in shown
    assert clip_middle("abcdefghij", 5) == "ab…ij" and clip_middle("abc", 5) == "abc"
    line = request_line("GET", path, 200, 5, at=AT)
    assert shown in line and "t3f2a9c0…" in line


def test_control_characters_in_a_path_never_reach_the_terminal():
    line = request_line("GET\x1b[2J", "/health\x1b]0;pwned\x07/x", 404, 1, at=AT, colour=False)
    assert "\x1b" not in line and "\x07" not in line
    assert "\\x1b" in line


# ---- colours --------------------------------------------------------------------------------------
def test_colours_only_on_a_terminal_without_no_color():
    assert colour_enabled(Tty(), environ={}) is True
    assert colour_enabled(Tty(), environ={"NO_COLOR": "1"}) is False
    assert colour_enabled(io.StringIO(), environ={}) is False  # a file, a pipe: never
    assert colour_enabled(Tty(), environ={"NO_COLOR": ""}) is True  # no-color.org: set and non-empty


@pytest.mark.parametrize(("status", "code"), [(200, "32"), (201, "32"), (404, "33"), (422, "33"), (500, "31"),
                                              (503, "31")])
def test_the_status_is_green_yellow_or_red_when_colours_are_on(status, code):
    line = request_line("GET", "/health", status, 1, at=AT, colour=True)
    assert f"\x1b[{code}m{status}\x1b[0m" in line
    assert ANSI.sub("", line) == request_line("GET", "/health", status, 1, at=AT, colour=False)


def test_a_terminal_writes_no_colour_to_a_file_or_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    piped, tty = io.StringIO(), Tty()
    Terminal(piped).request("GET", "/health", 200, 3)
    Terminal(tty).request("GET", "/health", 200, 3)
    assert "\x1b[" not in piped.getvalue() and "\x1b[32m200" in tty.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    no_colour = Tty()
    Terminal(no_colour).request("GET", "/health", 500, 3)
    assert "\x1b[" not in no_colour.getvalue() and " 500 " in no_colour.getvalue()


def test_a_json_terminal_writes_no_request_line():  # the middleware's JSON line stands for it
    out = io.StringIO()
    Terminal(out, log_format="json").request("GET", "/health", 200, 3)
    assert out.getvalue() == ""
    with pytest.raises(ValueError, match="text, json"):
        Terminal(out, log_format="yaml")


# ---- log records and metrics ----------------------------------------------------------------------
def _record(level: int, msg: str, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("scelle", level, __file__, 1, msg, None, exc_info)
    record.__dict__.update(extra)
    return record


def test_an_info_record_is_one_short_line_with_its_own_keys():
    line = TextFormatter().format(_record(logging.INFO, "full verification done", chains=3, failures=0))
    assert re.fullmatch(r"\d\d:\d\d:\d\d  ·        full verification done  chains=3 failures=0", line), line


def test_keys_the_message_already_shows_are_left_out():
    line = TextFormatter().format(_record(logging.INFO, "local mail to a@b.example: Hello -- token: xyz",
                                          mail_to="a@b.example", subject="Hello"))
    assert line.endswith("local mail to a@b.example: Hello -- token: xyz")


def test_warnings_and_errors_stand_out_on_their_own_lines_with_a_marker_and_the_traceback():
    formatter = TextFormatter(colour=False)
    warning = formatter.format(_record(logging.WARNING, "anomaly", anomaly={"rule": "signin_burst", "count": 5}))
    assert warning.startswith("\n") and "▲ WARN" in warning
    assert 'anomaly={"rule":"signin_burst","count":5}' in warning
    try:
        raise RuntimeError("the table is gone")
    except RuntimeError:
        import sys

        error = formatter.format(_record(logging.ERROR, "scheduled handler failed", exc_info=sys.exc_info(),
                                         handler="verify_chains"))
    lines = error.splitlines()
    assert lines[0] == "" and "✖ ERROR  scheduled handler failed  handler=verify_chains" in lines[1]
    assert lines[-1].strip() == "RuntimeError: the table is gone" and lines[-1].startswith(" " * 19)
    coloured = TextFormatter(colour=True).format(_record(logging.ERROR, "TAMPER ALARM t1/prod.sales.R1 seq 3"))
    assert "\x1b[1;31m✖ ERROR" in coloured


def test_ascii_markers_on_a_terminal_that_cannot_show_unicode():
    line = TextFormatter(unicode=False).format(_record(logging.WARNING, "ticket overdue"))
    assert "! WARN" in line and "▲" not in line


def test_control_characters_in_a_logged_value_never_reach_the_terminal():
    line = TextFormatter().format(_record(logging.WARNING, "support mail not sent\x1b[2J", subject="\x1b]0;x\x07"))
    assert "\x1b" not in line and "\x07" not in line


def test_a_metrics_line_sums_counts_and_lists_other_values():
    blob = {"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Scelle", "Dimensions": [["service"]],
                     "Metrics": [{"Name": "EntriesAppended", "Unit": "Count"},
                                 {"Name": "AppendSeconds", "Unit": "Seconds"}]}]},
            "service": "scelle", "EntriesAppended": [1.0, 1.0, 3.0], "AppendSeconds": 0.012}
    assert metrics_line(blob, at=AT) == "15:02:11  metrics  EntriesAppended=5 AppendSeconds=0.012"


# ---- the progress bar of the long commands --------------------------------------------------------
def test_a_progress_bar_is_drawn_on_a_terminal_and_erased_at_the_end():
    tty, now = Tty(), [0.0]
    bar = Progress("export-sample", 10, stream=tty, width=10, clock=lambda: now[0])
    for i in range(10):
        now[0] += 0.25
        bar.advance(1, f"receipt {i + 1}/10")
    assert "\rexport-sample  █████░░░░░  50%  0:01  receipt 5/10" in tty.getvalue().replace("\x1b[K", "")
    assert bar.render() == "export-sample  ██████████ 100%  0:02  receipt 10/10"
    bar.close()
    assert tty.getvalue().endswith("\r\x1b[K")


def test_a_progress_bar_writes_nothing_when_stderr_is_no_terminal():
    piped = io.StringIO()
    bar = Progress("export-sample", 3, stream=piped)
    bar.advance(3, "done")
    bar.close()
    assert piped.getvalue() == ""


def test_a_progress_bar_redraws_at_most_ten_times_a_second():
    tty = Tty()
    bar = Progress("x", 1000, stream=tty, clock=lambda: 5.0)
    for _ in range(999):
        bar.advance()
    assert tty.getvalue().count("\r") == 1  # the first draw; then the clock did not move
    bar.advance()
    assert tty.getvalue().count("\r") == 2  # the last step is always drawn


def test_a_json_metrics_sink_writes_the_emf_blob_byte_for_byte():
    out = io.StringIO()
    terminal = Terminal(out, log_format="json", metrics=True)
    terminal._metric_sink()({"_aws": {"Timestamp": 1}, "A": 1.0})
    assert out.getvalue() == json.dumps({"_aws": {"Timestamp": 1}, "A": 1.0}, separators=(",", ":")) + "\n"


def test_what_an_alarms_message_already_says_is_not_repeated_in_its_keys():
    line = TextFormatter().format(_record(
        logging.ERROR, "TAMPER ALARM t1/prod.sales.R1 seq 1: modified — seq 1 was modified after sealing",
        alarm={"tenant_id": "t1", "chain": "prod.sales.R1", "seq": 1, "reason": "modified",
               "detail": "seq 1 was modified after sealing", "source": "stream:journal"}))
    assert line.endswith('alarm={"tenant_id":"t1","seq":1,"source":"stream:journal"}'), line
