"""Calls the ``@app.schedule`` handlers in local mode, as EventBridge would on AWS."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.local.lambda_events import LocalContext, scheduled_event
from chalicelib.observability import logger

_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_UNIT = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between runs of a schedule expression. Cron expressions run hourly locally."""
    match = _RATE.fullmatch(expression.strip())
    if match:
        return int(match.group(1)) * _UNIT[match.group(2)]
    return 3600.0


@dataclass
class Job:
    name: str
    handler: Any
    every: float
    next_run: float


def scheduled_handlers(app) -> list[tuple[str, str, Any]]:
    from chalice.app import ScheduledEventConfig

    return [
        (s.name, s.schedule_expression if isinstance(s.schedule_expression, str)
         else s.schedule_expression.to_string(), app.handler_map[s.name])
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig)
    ]


class Scheduler:
    def __init__(self, app, *, region: str, override_seconds: float | None = None) -> None:
        now = time.monotonic()
        self._region = region
        self.jobs = [
            Job(name, handler, override_seconds or rate_seconds(expr), now)
            for name, expr, handler in scheduled_handlers(app)
        ]

    def run_due(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        ran = []
        for job in self.jobs:
            if now >= job.next_run:
                job.next_run = now + job.every
                try:
                    job.handler(scheduled_event(job.name, self._region), LocalContext(job.name))
                except Exception:
                    logger.exception("scheduled handler failed", extra={"handler": job.name})
                ran.append(job.name)
        return ran
