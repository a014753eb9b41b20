"""Powertools logger, metrics and tracer, shared by every entry point.

The tracer is built lazily: creating it builds an X-Ray client (~0.45 s of import), which local
mode and most requests never need.
"""

from __future__ import annotations

import functools
import os
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

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
