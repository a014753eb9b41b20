"""Anomalies flagged by the rules over the event journal and the ledger, for the tenant admin; tamper
alarms of every tenant, for the platform operator."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel
from chalicelib.domain.permissions import Permission, PlatformPermission
from chalicelib.wiring import Service

anomalies_bp = Blueprint(__name__)


class AnomalyQuery(StrictModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=512, description="the next_cursor of the previous page")


class AnomalyOut(BaseModel):
    anomaly_id: str
    rule: str = Field(description="signin_burst | reversal_share | after_hours | first_export | integrity")
    severity: str
    summary: str
    at: str = Field(description="when: the window, business day or event the anomaly is filed under (UTC)")
    filed_at: str
    details: dict[str, Any]


class AnomalyList(BaseModel):
    anomalies: list[AnomalyOut]
    next_cursor: str | None = None


@endpoint(anomalies_bp, "GET", "/v1/tenants/{tenant_id}/anomalies", summary="Anomalies flagged for this tenant, "
          "newest first", tags=("verification",), query=AnomalyQuery, response=AnomalyList,
          permission=Permission.ANOMALIES_READ, rules={"cursor": "a next_cursor this route returned (else 422)"})
def list_anomalies(tenant_id: str, query: AnomalyQuery, *, anomalies=Service("anomalies")) -> AnomalyList:
    from chalicelib.adapters.ops_dynamodb import decode_cursor, encode_cursor

    items, last = anomalies.list(tenant_id, limit=query.limit, after=decode_cursor(query.cursor))
    return AnomalyList(
        anomalies=[
            AnomalyOut(anomaly_id=i["anomaly_id"], rule=i["rule"], severity=i["severity"], summary=i["summary"],
                       at=i["bucket"], filed_at=i.get("filed_at", ""), details=i.get("details") or {})
            for i in items
        ],
        next_cursor=encode_cursor(last),
    )


class AlarmOut(BaseModel):
    alarm_id: str
    tenant_id: str = Field(description="the tenant whose chain is at fault (_platform for the platform's own chains)")
    chain: str
    seq: int | None = Field(description="the first bad entry; null when the alarm is about the whole chain")
    reason: str
    detail: str
    source: str = Field(description="stream:journal | stream:events | stream:checkpoints | full | …: who saw it")
    raised_at: str


class AlarmList(BaseModel):
    alarms: list[AlarmOut]
    next_cursor: str | None = None


@endpoint(anomalies_bp, "GET", "/v1/operator/alarms", summary="Tamper alarms of every tenant, newest first "
          "(platform operator)", tags=("verification",), query=AnomalyQuery, response=AlarmList,
          permission=PlatformPermission.ALARMS_READ, rules={"cursor": "a next_cursor this route returned (else 422)"})
def list_alarms(query: AnomalyQuery, *, tamper_alarms=Service("tamper_alarms")) -> AlarmList:
    from chalicelib.adapters.ops_dynamodb import decode_cursor, encode_cursor

    items, last = tamper_alarms.list_all(limit=query.limit, after=decode_cursor(query.cursor))
    return AlarmList(
        alarms=[
            AlarmOut(alarm_id=i["alarm_id"], tenant_id=i["tenant_id"], chain=i.get("chain", ""), seq=i.get("seq"),
                     reason=i.get("reason", ""), detail=i.get("detail", ""), source=i.get("source", ""),
                     raised_at=i.get("raised_at", ""))
            for i in items
        ],
        next_cursor=encode_cursor(last),
    )
