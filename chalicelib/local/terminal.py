"""What a person sees in the terminal of ``scelle local`` (and of the long ``scelle`` commands).

By default (``--log-format text``): one short, aligned line per HTTP request (time, method, path,
status, duration, tenant), written by the local HTTP server for every request it answers (the
gateway's own refusals included); the other log records as short lines, warnings and errors with a
marker (``▲ WARN``, ``✖ ERROR``) and their traceback below; no CloudWatch metric blobs unless asked
(``--metrics``: then one short ``metrics`` line per flush). Colours only on a terminal and never
with ``NO_COLOR`` set (https://no-color.org).

``--log-format json`` keeps Powertools' JSON lines (the middleware's ``request`` line, EMF blobs
with ``--metrics``): what a Lambda writes, which never goes through this module
(``observability.on_lambda``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib import observability

# The progress bar and the two helpers it shares with this module live with the offline verifier
# (scelle verify draws it too, and must not import chalicelib): the same objects.
from scelle_verify.progress import Progress, printable, unicode_ok  # noqa: F401 - Progress: re-exported

LOG_FORMATS = ("text", "json")
METHOD_WIDTH = 7  # OPTIONS
PATH_WIDTH = 40

_STYLES = {"green": "32", "cyan": "36", "yellow": "33", "red": "31", "dim": "2", "bold": "1",
           "warn": "1;33", "error": "1;31"}
_TENANT_PATH = re.compile(r"^(/v1/tenants/)([^/]+)(.*)$")


# ---- pure formatting ------------------------------------------------------------------------------
def colour_enabled(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """ANSI colours only when ``stream`` is a terminal and ``NO_COLOR`` is not set (no-color.org:
    any non-empty value turns colours off)."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def paint(text: str, style: str | None, colour: bool) -> str:
    return f"\033[{_STYLES[style]}m{text}\033[0m" if colour and style else text


def status_style(status: int) -> str | None:
    if 200 <= status < 300:
        return "green"
    if 300 <= status < 400:
        return "cyan"
    if 400 <= status < 500:
        return "yellow"
    if status >= 500:
        return "red"
    return None


def short(text: str, keep: int, ellipsis: str = "…") -> str:
    """The first ``keep`` characters of ``text`` and an ellipsis, or ``text`` when it is short."""
    return text if len(text) <= keep + len(ellipsis) else text[:keep] + ellipsis


def clip_middle(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` in at most ``width`` characters: its start and its end around an ellipsis."""
    if len(text) <= width:
        return text
    room = max(width - len(ellipsis), 2)
    head = room // 2
    return text[:head] + ellipsis + text[len(text) - (room - head):]


def request_path(target: str) -> str:
    """The path of an HTTP request target, without its query string (absolute form accepted)."""
    if "://" in target.split("?", 1)[0]:
        target = urlsplit(target).path or "/"
    return target.split("?", 1)[0].split("#", 1)[0]


def tenant_of(target: str) -> str | None:
    """The tenant id of a ``/v1/tenants/{tenant_id}/...`` path, else None."""
    match = _TENANT_PATH.match(request_path(target))
    return match.group(2) if match and match.group(2) else None


def display_path(target: str, width: int = PATH_WIDTH, ellipsis: str = "…") -> str:
    """The path to show: no query string, the tenant id shortened, at most ``width`` characters."""
    path = request_path(target)
    match = _TENANT_PATH.match(path)
    if match and match.group(2):
        path = match.group(1) + short(match.group(2), 2, ellipsis) + match.group(3)
    return clip_middle(printable(path), width, ellipsis)


def request_line(method: str, target: str, status: int, duration_ms: float, *, at: datetime | None = None,
                 colour: bool = False, unicode: bool = True, path_width: int = PATH_WIDTH) -> str:
    """One aligned line: ``15:02:11  POST     /v1/tenants/t…/sales   201    24 ms  t9b93550…``."""
    ellipsis = "…" if unicode else "~"
    when = (at or datetime.now()).strftime("%H:%M:%S")
    shown_method = clip_middle(printable(method or "-"), METHOD_WIDTH, ellipsis)
    path = display_path(target or "-", path_width, ellipsis)
    columns = [
        when,
        f"{shown_method:<{METHOD_WIDTH}}",
        f"{path:<{path_width}}",
        paint(f"{status:>3}", status_style(status), colour),
        f"{max(duration_ms, 0):>5.0f} ms",
    ]
    tenant = tenant_of(target or "")
    if tenant:
        columns.append(paint(short(printable(tenant), 8, ellipsis), "dim", colour))
    return "  ".join(columns)


def metrics_line(blob: Mapping[str, Any], *, at: datetime | None = None, colour: bool = False) -> str:
    """One line for a flushed EMF metric set: ``15:02:11  metrics  EntriesAppended=3 ...``.
    Counts are summed; other units show their values."""
    definitions = blob.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Metrics", [])
    parts = []
    for definition in definitions:
        name = definition.get("Name", "?")
        values = blob.get(name)
        values = values if isinstance(values, list) else [values]
        if definition.get("Unit") == "Count":
            shown = f"{sum(v for v in values if isinstance(v, int | float)):g}"
        else:
            shown = ",".join(f"{v:g}" if isinstance(v, int | float) else str(v) for v in values[:5])
            shown += ",…" if len(values) > 5 else ""
        parts.append(f"{name}={shown}")
    when = (at or datetime.now()).strftime("%H:%M:%S")
    marker = paint("metrics".ljust(METHOD_WIDTH), "cyan", colour)
    return f"{when}  {marker}  {paint(' '.join(parts), 'dim', colour)}"


# ---- log records ------------------------------------------------------------------------------------
# Keys of a Powertools record that are not the record's own facts (or shown otherwise).
_NOT_EXTRAS = frozenset({
    "level", "location", "message", "timestamp", "service", "sampling_rate", "correlation_id", "xray_trace_id",
    "exception", "exception_name", "exception_notes", "stack_trace", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id",
})


class TextFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter rendering each record as a short line instead of JSON (so
    ``set_correlation_id`` and appended keys keep working): time, a marker, the message, the
    record's own keys as ``key=value``; warnings and errors stand out (marker, colour, a blank line
    before them) with the traceback of an exception indented below."""

    def __init__(self, *, colour: bool = False, unicode: bool = True, value_width: int = 80) -> None:
        super().__init__(datefmt="%H:%M:%S")  # local time: this is a person's terminal
        self.colour, self.unicode, self.value_width = colour, unicode, value_width

    def serialize(self, log: dict[str, Any]) -> str:  # the structured record -> one line (or a few)
        level = str(log.get("level", "INFO"))
        important = level in ("WARNING", "ERROR", "CRITICAL")
        width = self.value_width * 4 if important else self.value_width
        ellipsis = "…" if self.unicode else "~"
        message = str(log.get("message", ""))
        message_lines = message.splitlines() or [""]
        extras = " ".join(f"{printable(str(k))}={self._value(v, width, ellipsis, message)}"
                          for k, v in log.items() if k not in _NOT_EXTRAS and not _shown_in(v, message))
        if level == "WARNING":
            marker, style = ("▲ WARN" if self.unicode else "! WARN"), "warn"
        elif important:
            marker, style = ("✖ ERROR" if self.unicode else "X ERROR"), "error"
        elif level == "DEBUG":
            marker, style = "debug", "dim"
        else:
            marker, style = "·" if self.unicode else "-", None
        head = f"{log.get('timestamp', '')}  {paint(f'{marker:<{METHOD_WIDTH}}', style, self.colour)}  "
        first = printable(message_lines[0])
        line = head + (paint(first, "bold", self.colour) if important else first)
        if extras:
            line += "  " + paint(extras, "dim", self.colour)
        lines = [line]
        indent = " " * (8 + 2 + METHOD_WIDTH + 2)
        lines += [indent + printable(more) for more in message_lines[1:]]
        trace = log.get("exception")
        if trace:
            lines += [indent + paint(printable(t), "dim", self.colour) for t in str(trace).splitlines()]
        if important:
            lines.insert(0, "")  # on its own, away from the request lines
        return "\n".join(lines)

    @staticmethod
    def _value(value: Any, width: int, ellipsis: str, message: str) -> str:
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if not _shown_in(v, message)}
        if isinstance(value, str):
            text = value if value and " " not in value else json.dumps(value, ensure_ascii=False)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
        return short(printable(text), width, ellipsis)


def _shown_in(value: Any, message: str) -> bool:
    """A text the message already shows (a mail's address and subject, an alarm's chain and
    detail) is not repeated as ``key=value``."""
    return isinstance(value, str) and len(value) > 2 and value in message


class _NoMiddlewareRequestRecord(logging.Filter):
    """Drops the API middleware's per-request record (``chalicelib/api/middleware.py``:
    message ``request`` with ``duration_ms``): the HTTP server's request line stands for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "request" and hasattr(record, "duration_ms"))


# ---- the terminal -----------------------------------------------------------------------------------
class Terminal:
    """Where the lines of a person's terminal are written, and how.

    ``install()`` applies ``log_format`` and ``metrics`` to the process's logger and metrics
    (nothing on Lambda); ``uninstall()`` (or leaving the ``with`` block) undoes it."""

    def __init__(self, stream: IO[str] | None = None, *, log_format: str = "text", metrics: bool = False,
                 colour: bool | None = None, level: str | int | None = None) -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
        self.stream = stream if stream is not None else sys.stdout
        self.log_format, self.metrics, self.level = log_format, metrics, level
        self.colour = colour_enabled(self.stream) if colour is None else colour
        self.unicode = unicode_ok(self.stream)
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    @property
    def text(self) -> bool:
        return self.log_format == "text"

    def install(self) -> Terminal:
        if self.text:
            undo = observability.set_log_output(
                formatter=TextFormatter(colour=self.colour, unicode=self.unicode), stream=self.stream,
                level=self.level, filters=[_NoMiddlewareRequestRecord()])
        else:
            undo = observability.set_log_output(stream=self.stream, level=self.level)
        undo_metrics = observability.route_metrics(self._metric_sink() if self.metrics else None)
        self._undo += [u for u in (undo, undo_metrics) if u is not None]
        if undo is not None and getattr(observability.logger.registered_handler, "lock", None) is not None:
            # Request lines and log lines (other threads) never cut into each other.
            self._lock = observability.logger.registered_handler.lock
        return self

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> Terminal:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def request(self, method: str, target: str, status: int, duration_ms: float) -> None:
        """The line of one HTTP request (text format only: in JSON, the middleware logs it)."""
        if self.text:
            self.write(request_line(method, target, status, duration_ms, colour=self.colour, unicode=self.unicode))

    def _metric_sink(self) -> Callable[[dict[str, Any]], None]:
        if not self.text:  # what Powertools prints on Lambda, byte for byte
            return lambda blob: self.write(json.dumps(blob, separators=(",", ":")))
        return lambda blob: self.write(metrics_line(blob, colour=self.colour))


def command_terminal() -> Terminal:
    """For a long ``scelle`` command: stdout keeps only the command's own answer. Log records go
    to stderr, warnings and errors only (``SCELLE_LOG_LEVEL``, when set, chooses), and metrics
    nowhere."""
    level = os.environ.get("SCELLE_LOG_LEVEL", "").strip().upper() or "WARNING"
    level = level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "WARNING"
    return Terminal(sys.stderr, log_format="text", metrics=False, level=level)
