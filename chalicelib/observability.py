"""Powertools logger, metrics and tracer, shared by every entry point.

The tracer is built lazily: creating it builds an X-Ray client (~0.45 s of import), which local
mode and most requests never need.

On Lambda the output is always Powertools' own: one JSON line per log record and EMF metric blobs
on stdout, which CloudWatch reads. Off Lambda, ``scelle local`` and the long ``scelle`` commands
may send metric sets elsewhere (``route_metrics``) and format log lines for people
(``set_log_output``; chalicelib/local/terminal.py); both refuse, and change nothing, on Lambda.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from typing import IO, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_METRICS

SERVICE = "scelle"
NAMESPACE = "Scelle"


def _log_level() -> str:
    # Read before the settings are validated (every module logs): a bad value must not crash the
    # import with a traceback. INFO stands in, and load_settings reports SCELLE_LOG_LEVEL by name.
    level = os.environ.get("SCELLE_LOG_LEVEL", "INFO").strip().upper()
    return level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"


logger = Logger(service=SERVICE, level=_log_level())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@functools.lru_cache(maxsize=1)
def get_tracer():
    from aws_lambda_powertools import Tracer

    # Off locally: there is no X-Ray daemon on a laptop.
    disabled = os.environ.get("SCELLE_MODE", "local") != "aws"
    return Tracer(service=SERVICE, disabled=disabled)


def count(name: str, value: int = 1) -> None:
    """Add a count metric, flushed as EMF at the end of the invocation."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush_metrics() -> None:
    """Emit the buffered EMF blob (one log line) if anything was recorded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no metrics to publish" is normal for most requests
            metrics.flush_metrics(raise_on_empty_metrics=False)
    except Exception:  # metrics must never break a request
        logger.exception("metrics flush failed")


# ---- off Lambda: where metrics and log lines go -------------------------------------------------
def on_lambda() -> bool:
    """True in a Lambda function (its runtime sets ``AWS_LAMBDA_FUNCTION_NAME``) or in a process
    configured for AWS (``SCELLE_MODE=aws``): there, logs and metrics stay Powertools' own."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) or os.environ.get("SCELLE_MODE", "local") == "aws"


class _RoutedEMF(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider whose metric sets go to ``sink`` (a callable given the EMF dict)
    instead of stdout, or nowhere when ``sink`` is None: each metric is still validated (a bad
    name or unit fails locally as on Lambda), then dropped, so nothing piles up. With a sink, the
    set is flushed before Powertools' own overflow (100 values of a metric, or 100 metrics) would
    print it."""

    def __init__(self, sink: Callable[[dict[str, Any]], None] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = sink

    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = 60) -> None:
        if self.sink is not None:
            values = self.metric_set.get(name.strip(), {}).get("Value", ())
            new_metric = name.strip() not in self.metric_set
            if len(values) >= MAX_METRICS - 1 or (new_metric and len(self.metric_set) >= MAX_METRICS - 1):
                self.flush_metrics()
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)
        if self.sink is None:
            self.metric_set.clear()

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if not self.metric_set:
            return
        blob = self.serialize_metric_set()
        self.clear_metrics()
        if self.sink is not None:
            self.sink(blob)


def route_metrics(sink: Callable[[dict[str, Any]], None] | None) -> Callable[[], None] | None:
    """Off Lambda only: send each flushed metric set to ``sink`` (None: drop it) instead of
    printing an EMF blob on stdout. Returns a function that puts Powertools' provider back, or
    None (nothing changed) on Lambda."""
    if on_lambda():
        return None
    previous = metrics.provider
    previous.clear_metrics()  # what was recorded before belongs to nobody's terminal
    metrics.provider = _RoutedEMF(
        sink, metric_set=metrics.metric_set, dimension_set=metrics.dimension_set, namespace=NAMESPACE,
        service=SERVICE, metadata_set=metrics.metadata_set, default_dimensions=metrics.default_dimensions)

    def undo() -> None:
        metrics.provider.clear_metrics()
        metrics.provider = previous

    return undo


def set_log_output(*, formatter: logging.Formatter | None = None, stream: IO[str] | None = None,
                   level: str | int | None = None, filters: Iterable[logging.Filter] = ()
                   ) -> Callable[[], None] | None:
    """Off Lambda only: write the log lines with ``formatter`` (a Powertools formatter subclass,
    so ``set_correlation_id`` and appended keys keep working) to ``stream``, from ``level`` up,
    through ``filters``. Returns a function that undoes it, or None (nothing changed) on Lambda."""
    if on_lambda():
        return None
    handler = logger.registered_handler
    old_formatter, old_level = handler.formatter, logger.log_level
    old_stream = getattr(handler, "stream", None)
    if formatter is not None:
        handler.setFormatter(formatter)
    if stream is not None and isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    if level is not None:
        logger.setLevel(level)
    added = list(filters)
    for item in added:
        handler.addFilter(item)

    def undo() -> None:
        for item in added:
            handler.removeFilter(item)
        handler.setFormatter(old_formatter)
        if old_stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(old_stream)
        logger.setLevel(old_level)

    return undo
