"""A unit of scheduled work: one job on one chain (decision 0028), and the port that queues units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.errors import ValidationFailed

JOBS = ("sign", "close", "verify")


@dataclass(frozen=True)
class ChainUnit:
    job: str  # "sign" | "close" | "verify"
    tenant_id: str
    chain: str
    from_seq: int = 1  # a verification slice's first entry (continuations); 1 otherwise
    full: bool = False  # verify: the whole chain from seq 1, not from the last pass's checkpoint

    def to_message(self) -> dict[str, Any]:
        return {"job": self.job, "tenant_id": self.tenant_id, "chain": self.chain, "from_seq": self.from_seq,
                "full": self.full}

    @classmethod
    def from_message(cls, body: Any) -> ChainUnit:
        """A message body as sent by ``to_message``; anything else is refused, naming the field."""
        if not isinstance(body, dict):
            raise ValidationFailed("a unit of work is a JSON object", field="body")
        job, tenant_id, chain, from_seq, full = (body.get("job"), body.get("tenant_id"), body.get("chain"),
                                                 body.get("from_seq", 1), body.get("full", False))
        if job not in JOBS:
            raise ValidationFailed(f"job must be one of {', '.join(JOBS)}", field="job")
        for name, value in (("tenant_id", tenant_id), ("chain", chain)):
            if not isinstance(value, str) or not value:
                raise ValidationFailed(f"{name} must be a non-empty string", field=name)
        if not isinstance(from_seq, int) or isinstance(from_seq, bool) or from_seq < 1:
            raise ValidationFailed("from_seq must be an integer >= 1", field="from_seq")
        if not isinstance(full, bool):
            raise ValidationFailed("full must be true or false", field="full")
        return cls(job, tenant_id, chain, from_seq, full)


class WorkQueues(Protocol):
    def send(self, units: list[ChainUnit], *, window: str) -> int:
        """Queue each unit once per ``window`` (deduplicated); the number accepted."""
        ...
