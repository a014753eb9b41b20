"""A clock that moves one second per reading: demo data (``scelle export-sample``) and tests
seal days of history in seconds, with ``set`` to jump to a moment and ``advance`` to skip."""

from __future__ import annotations

from datetime import datetime, timedelta


class MovingClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
