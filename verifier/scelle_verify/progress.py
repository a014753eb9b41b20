"""A one-line progress bar on a terminal, and the two helpers it needs: ``scelle verify`` draws
it on stderr when stderr is a terminal (never otherwise: a pipe, a file, ``--json``, ``--quiet``),
and the long ``scelle`` commands of the main package use the same one
(``chalicelib.local.terminal`` re-exports these objects)."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import IO, Any

# C0 and C1 control characters and DEL: a path or a logged value must never drive the terminal
# (an ESC in a request path would otherwise be an escape sequence on the developer's screen).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def unicode_ok(stream: Any) -> bool:
    """Whether ``stream`` can write "…", "▲" and "✖" (else ASCII stand-ins are used)."""
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def printable(text: str) -> str:
    """``text`` with every control character shown as ``\\xNN`` (never interpreted)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class Progress:
    """A one-line progress bar on ``stream`` (stderr) when it is a terminal; nothing otherwise.

    ``advance(n, note)`` moves it; redraws at most 10 times a second; ``close()`` erases it."""

    def __init__(self, label: str, total: int, *, stream: IO[str] | None = None, enabled: bool | None = None,
                 width: int = 28, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            tty = False
        self.enabled = tty if enabled is None else enabled
        self.label, self.total, self.width, self.done, self.note = label, max(total, 1), width, 0, ""
        self._clock = clock
        self._started = clock()
        self._drawn = -1.0
        self._full, self._empty = ("█", "░") if unicode_ok(self.stream) else ("#", ".")

    def advance(self, n: int = 1, note: str | None = None) -> None:
        self.update(self.done + n, note)

    def update(self, done: int, note: str | None = None) -> None:
        self.done = min(max(done, 0), self.total)
        if note is not None:
            self.note = note
        now = self._clock()
        if self.enabled and (now - self._drawn >= 0.1 or self.done == self.total):
            self._drawn = now
            self.stream.write("\r\033[K" + self.render(now))
            self.stream.flush()

    def render(self, now: float | None = None) -> str:
        filled = self.width * self.done // self.total
        elapsed = int((self._clock() if now is None else now) - self._started)
        bar = self._full * filled + self._empty * (self.width - filled)
        text = f"{self.label}  {bar} {100 * self.done // self.total:3d}%  {elapsed // 60}:{elapsed % 60:02d}"
        return f"{text}  {printable(self.note)}" if self.note else text

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
