"""Tamper alarms: raised by the stream verifier and the full verifier, each exactly once.

An alarm names the tenant, the chain and the first bad seq, says why, and carries the evidence
that makes it unique (the stream record's sequence number, or the heads compared). Raising one
stores it in the ops table (a repeat of the same evidence is a no-op), counts ``TamperAlarms``,
logs it as an error and records a ``tamper_alarm`` event in the tenant's event journal, from
which the anomaly rules list it for the tenant admin and mail the admin and the operator. If
the event cannot be recorded (the journal itself may be what was tampered with), the alarm goes
to ``fallback`` directly: it is never lost between the two.

Each alarm is stored under three keys of the ops table, each written once (``put_once``):
``ALARM#<tenant>`` / alarm id (the record; its write decides "raised before"), ``ALARMS`` /
``<raised_at>#<alarm id>`` (every tenant's alarms newest first, for the platform operator:
``GET /v1/operator/alarms``) and ``ALARMCHAIN#<tenant>#<chain>`` / ``<seq, 20 digits>#<alarm id>``
(a chain's alarms by seq, lowest first: what ``integrity`` reads for one entry). A repeat of an
alarm rewrites the two listings with the stored ``raised_at``, so a crash between the writes is
repaired by the next delivery of the same evidence, and never lists an alarm twice.

**Authenticated** (decision 0032): an alarm's id is computed from what a stream record shows, so
whoever can write to the ops table could store it *before* changing an entry, and the real alarm,
found "raised before", was silent. The record therefore carries a write proof (``proofs``, the key
of decision 0022, message ``alarm_message``); a stored record whose proof does not verify is not
ours: the alarm is raised all the same, stored under ``<alarm id>#2``, and says that a record it did
not write stood in its place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import utc_timestamp
from chalicelib.domain.write_proofs import proof_attributes, stored_proof
from chalicelib.observability import logger
from chalicelib.services.events import PLATFORM_TENANT


@dataclass(frozen=True)
class TamperAlarm:
    tenant_id: str
    chain: str
    seq: int | None
    reason: str
    detail: str
    source: str  # "stream:journal", "stream:events", "stream:checkpoints", "full"
    evidence: str = ""

    @property
    def alarm_id(self) -> str:
        text = "|".join((self.source, self.tenant_id, self.chain, str(self.seq), self.reason, self.evidence))
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "the chain"
        return f"{self.tenant_id}/{self.chain} {where}: {self.reason} — {self.detail}"


ALL_ALARMS = "ALARMS"
ALARM_PROOF_CONTEXT = b"scelle/alarm-proof/v1\n"  # never an entry's write proof (another context)
FORGED_NOTE = ("[an alarm record this platform did not write held this alarm's id: the alarm store was tampered "
               "with, to silence this alarm] ")  # first, so that no cut of a long detail loses it


def alarm_message(tenant: str, item: dict) -> bytes:
    """What an alarm record's write proof authenticates: the fields that make the alarm (its id and
    what the id is computed from), not its wording nor when it was raised."""
    seq = item.get("seq")
    fields = [tenant, item.get("alarm_id"), item.get("chain"), None if seq is None else int(seq), item.get("reason"),
              item.get("source"), item.get("evidence", "")]
    text = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return ALARM_PROOF_CONTEXT + hashlib.sha256(text.encode("ascii")).hexdigest().encode("ascii")


def chain_alarms_pk(tenant_id: str, chain: str) -> str:
    return f"ALARMCHAIN#{tenant_id}#{chain}"


def chain_alarm_sk(seq: int | None, alarm_id: str) -> str:
    return f"{int(seq or 0):020d}#{alarm_id}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AlarmService:
    def __init__(
        self,
        ops,
        journal: Callable[[], object],
        *,
        on_alarm: Callable[[], None] | None = None,
        fallback: Callable[[TamperAlarm], None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        proofs=None,
    ) -> None:
        self._ops = ops
        self._journal = journal
        self._on_alarm = on_alarm or (lambda: None)
        self._fallback = fallback or (lambda alarm: None)
        self._clock = clock
        self._proofs = proofs  # None: records are not authenticated (unit tests of other services)

    def raise_alarm(self, alarm: TamperAlarm) -> bool:
        """Record and announce ``alarm``. False when the same alarm was raised before (a record of
        ours holds its id)."""
        tenant = alarm.tenant_id or PLATFORM_TENANT
        attributes = {**asdict(alarm), "alarm_id": alarm.alarm_id, "raised_at": utc_timestamp(self._clock())}
        attributes.update(self._proof(tenant, attributes))
        for sk in (alarm.alarm_id, f"{alarm.alarm_id}#2"):
            if self._ops.put_once(f"ALARM#{tenant}", sk, attributes):
                break
            stored = self._ops.get(f"ALARM#{tenant}", sk)
            if stored is not None and self._ours(tenant, attributes, stored):
                self._index(tenant, stored)
                return False
            if not alarm.detail.startswith(FORGED_NOTE):  # not ours: announced all the same, saying so
                alarm = TamperAlarm(**{**asdict(alarm), "detail": FORGED_NOTE + alarm.detail})
                attributes["detail"] = alarm.detail
        self._index(tenant, attributes)
        self._on_alarm()
        logger.error("TAMPER ALARM " + alarm.describe(), extra={"alarm": attributes})
        try:
            self._journal().record(
                tenant,
                "tamper_alarm",
                actor=None,
                details={"chain": alarm.chain, "seq": alarm.seq, "reason": alarm.reason, "detail": alarm.detail[:1000],
                         "source": alarm.source, "alarm_id": alarm.alarm_id},
            )
        except Exception:
            logger.exception("could not journal a tamper alarm; notifying directly", extra={"alarm_id": alarm.alarm_id})
            self._fallback(alarm)
        return True

    def _proof(self, tenant: str, attributes: dict) -> dict[str, str]:
        if self._proofs is None:
            return {}
        try:
            return proof_attributes(self._proofs.prove(alarm_message(tenant, attributes)))
        except Exception as exc:  # KMS down, or a function that may not make proofs (build_export is no
            # PROVER): the alarm goes out unproven, and a repeat of it is announced again, never silenced
            logger.warning("tamper alarm stored without a write proof",
                           extra={"alarm_id": attributes["alarm_id"], "error": str(exc)[:200]})
            return {}

    def _ours(self, tenant: str, raising: dict, stored: dict) -> bool:
        """Whether the stored record is this platform's record of the alarm being raised: its proof
        must authenticate *this* alarm (``raising``), not merely the fields stored beside it — a
        genuine record of another alarm copied under this id proves only that other alarm. Without
        a key to check, assumed."""
        if self._proofs is None:
            return True
        proof = stored_proof(stored)
        if proof is None:
            return False
        try:
            return self._proofs.problem(alarm_message(tenant, raising), proof) is None
        except Unavailable:  # cannot tell: announce it again rather than stay silent
            return False

    def _index(self, tenant: str, attributes: dict) -> None:
        """The alarm's two listings (each a no-op when already there)."""
        item = {**{k: v for k, v in attributes.items() if k not in ("pk", "sk")}, "tenant_id": tenant}
        self._ops.put_once(ALL_ALARMS, f"{item['raised_at']}#{item['alarm_id']}", item)
        self._ops.put_once(chain_alarms_pk(tenant, item["chain"]), chain_alarm_sk(item.get("seq"), item["alarm_id"]),
                           item)

    def list_all(self, *, limit: int, after: str | None = None) -> tuple[list[dict], str | None]:
        """Every tenant's alarms, newest first, a page at a time (``after``: the last sort key of
        the previous page)."""
        return self._ops.query(ALL_ALARMS, limit=limit, after_sk=after)

    def first_alarmed_seq(self, tenant_id: str, chain: str) -> int | None:
        """The lowest seq an alarm names on this chain (0 for an alarm on the whole chain), or None.
        One query of one item."""
        items, _ = self._ops.query(chain_alarms_pk(tenant_id, chain), limit=1, descending=False)
        return int(items[0].get("seq") or 0) if items else None

    def list(self, tenant_id: str, *, limit: int = 100) -> list[dict]:
        items, _ = self._ops.query(f"ALARM#{tenant_id}", limit=limit)
        return sorted(items, key=lambda i: i.get("raised_at", ""), reverse=True)
