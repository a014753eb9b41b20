"""Logs and metrics off Lambda and on it (issue 16, item 2).

Locally (``scelle local``, the long commands): no CloudWatch metric blobs unless asked, a line per
request for people by default, Powertools' JSON lines with ``--log-format json``. On Lambda
(``AWS_LAMBDA_FUNCTION_NAME``) or with ``SCELLE_MODE=aws``: nothing of that applies, the JSON
lines and the EMF flush are Powertools' own, unchanged."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from chalice import Chalice
from chalice.test import Client

from chalicelib import observability
from chalicelib.local.terminal import Terminal
from chalicelib.observability import count, flush_metrics, logger, metrics


@pytest.fixture
def local(monkeypatch):
    """A laptop: no Lambda, local mode; the shared metric set empty before and after."""
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("SCELLE_MODE", raising=False)
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.fixture
def lambda_env(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "scelle-prod-api")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _app() -> Chalice:
    from chalicelib.api import middleware

    app = Chalice(app_name="observability-test")
    middleware.install(app)

    @app.route("/ping")
    def ping():
        count("EntriesAppended")
        return {"ok": True}

    return app


def _lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line.strip()]


# ---- metrics ----------------------------------------------------------------------------------------
def test_locally_no_metric_is_printed_or_kept_by_default(local, capsys):
    out = io.StringIO()
    with Terminal(out, metrics=False):
        for _ in range(250):  # past Powertools' 100-value overflow, which prints even when "disabled"
            count("EntriesAppended")
        flush_metrics()
        assert metrics.metric_set == {}  # nothing piles up in a long-running local process
        with pytest.raises(Exception, match="metric name"):
            count("")  # still validated as on Lambda
    assert "_aws" not in capsys.readouterr().out and "_aws" not in out.getvalue()
    assert isinstance(metrics.provider, AmazonCloudWatchEMFProvider)
    assert type(metrics.provider) is AmazonCloudWatchEMFProvider  # put back on leaving


def test_with_the_metrics_option_each_flush_is_one_short_line(local, capsys):
    out = io.StringIO()
    with Terminal(out, metrics=True):
        count("EntriesAppended", 2)
        count("EntriesAppended")
        flush_metrics()
        flush_metrics()  # nothing new: no line
    lines = _lines(out)
    assert len(lines) == 1 and lines[0].endswith("metrics  EntriesAppended=3"), lines
    assert "_aws" not in capsys.readouterr().out


def test_with_the_metrics_option_in_json_the_emf_blobs_are_printed_and_none_overflows(local, capsys):
    out = io.StringIO()
    with Terminal(out, log_format="json", metrics=True):
        for _ in range(150):
            count("EntriesAppended")
        flush_metrics()
    blobs = [json.loads(line) for line in _lines(out)]
    assert blobs and all("_aws" in blob for blob in blobs)
    assert sum(sum(blob["EntriesAppended"]) for blob in blobs) == 150  # every value, none twice
    assert all(len(blob["EntriesAppended"]) <= 100 for blob in blobs)
    assert "_aws" not in capsys.readouterr().out  # Powertools' own overflow print never fired


# ---- log lines --------------------------------------------------------------------------------------
def test_json_format_keeps_the_middlewares_json_request_line(local):
    out = io.StringIO()
    with Terminal(out, log_format="json", level="INFO"), Client(_app()) as client:
        assert client.http.get("/ping").status_code == 200
        logger.warning("tamper alarm test", extra={"chain": "prod.sales.R1"})
    records = [json.loads(line) for line in _lines(out)]  # every line is JSON
    request = next(r for r in records if r["message"] == "request")
    assert request["method"] == "GET" and request["path"] == "/ping" and request["status"] == 200
    assert "duration_ms" in request and request["level"] == "INFO"
    warning = next(r for r in records if r["message"] == "tamper alarm test")
    assert warning["level"] == "WARNING" and warning["chain"] == "prod.sales.R1"


def test_text_format_drops_the_middlewares_record_and_writes_other_records_as_lines(local):
    out = io.StringIO()
    with Terminal(out, level="INFO", colour=False), Client(_app()) as client:
        assert client.http.get("/ping").status_code == 200
        logger.info("full verification done", extra={"chains": 2})
    lines = _lines(out)
    # (a StringIO has no encoding: the ASCII marker)
    assert len(lines) == 1 and lines[0].endswith("-        full verification done  chains=2"), lines
    assert not any(line.lstrip().startswith("{") for line in lines)


def test_leaving_the_terminal_puts_the_json_formatter_stream_and_level_back(local):
    handler = logger.registered_handler
    before = (handler.formatter, handler.stream, logger.log_level, list(handler.filters))
    with Terminal(io.StringIO(), level="DEBUG"):
        assert type(handler.formatter) is not LambdaPowertoolsFormatter
    assert (handler.formatter, handler.stream, logger.log_level, list(handler.filters)) == before


# ---- on Lambda: unchanged ---------------------------------------------------------------------------
@pytest.mark.parametrize("detected_by", ["AWS_LAMBDA_FUNCTION_NAME", "SCELLE_MODE=aws"])
def test_on_lambda_the_terminal_changes_nothing_and_the_emf_flush_still_happens(detected_by, monkeypatch, capsys):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    if detected_by == "SCELLE_MODE=aws":
        monkeypatch.setenv("SCELLE_MODE", "aws")
    else:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "scelle-prod-api")
    metrics.clear_metrics()
    handler = logger.registered_handler
    formatter, stream, level = handler.formatter, handler.stream, logger.log_level
    assert observability.on_lambda()
    elsewhere = io.StringIO()
    terminal = Terminal(elsewhere, metrics=False, level="DEBUG").install()  # as `scelle local` would
    try:
        assert handler.formatter is formatter and handler.stream is stream and logger.log_level == level
        assert type(metrics.provider) is AmazonCloudWatchEMFProvider
        captured = io.StringIO()
        handler.setStream(captured)
        logger.setLevel(logging.INFO)
        with Client(_app()) as client:
            assert client.http.get("/ping").status_code == 200
    finally:
        terminal.uninstall()
        handler.setStream(stream)
        logger.setLevel(level)
        metrics.clear_metrics()
    assert elsewhere.getvalue() == ""
    (request,) = [json.loads(line) for line in _lines(captured)]
    assert request["message"] == "request" and request["path"] == "/ping"
    # The middleware's flush printed the EMF blob on stdout, where CloudWatch reads it.
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(blobs) == 1 and blobs[0]["EntriesAppended"] == [1.0]
    assert blobs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Scelle"
