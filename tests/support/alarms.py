"""A tamper-alarm sink that records what it is given (unit tests of the signer and the witness)."""

from __future__ import annotations


class RecordedAlarms:
    def __init__(self) -> None:
        self.raised = []

    def raise_alarm(self, alarm) -> bool:
        self.raised.append(alarm)
        return True

    def named(self, reason: str) -> list:
        return [a for a in self.raised if a.reason == reason]

    def reasons(self) -> list[tuple]:
        return [(a.reason, a.seq, a.source) for a in self.raised]
