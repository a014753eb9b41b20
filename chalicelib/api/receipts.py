"""Public receipt check: what the QR code on a receipt opens. Rate-limited per client IP."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field, field_validator

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import StrictModel
from chalicelib.wiring import Service

receipts_bp = Blueprint(__name__)
TAGS = ("receipts",)


class ReceiptQuery(StrictModel):
    t: str = Field(min_length=1, max_length=200, description="tenant id")
    c: str = Field(min_length=1, max_length=200, pattern=r"^(test|prod)\.sales\.[A-Za-z0-9_-]{1,32}$",
                   description="register chain, e.g. prod.sales.R1")
    s: int = Field(ge=1, lt=2**63, description="the receipt's number (seq) in its register")
    h: str = Field(description="the receipt's hash, or its first 10+ hex digits (the printed code XXXXX-XXXXX)",
                   json_schema_extra={"pattern": r"^(?:[ -]*[0-9A-Fa-f]){10,64}[ -]*$"})

    @field_validator("h")
    @classmethod
    def _hash_prefix(cls, value: str) -> str:
        from chalicelib.receipts import is_hex_prefix

        if not is_hex_prefix(value):
            raise ValueError("give the receipt's code (10 hex digits, e.g. 3F2A9-C41B7) or its full hash")
        return value


class ReceiptCheck(BaseModel):
    status: str = Field(description="genuine | sealed (not yet under a checkpoint) | training | altered")
    genuine: bool
    fiscal: bool
    message: dict[str, str]
    receipt: dict[str, Any]
    checkpoint: dict[str, Any] | None
    proof: dict[str, Any] | None


@endpoint(receipts_bp, "GET", "/v1/verify/receipt", summary="Check a receipt's code (public, rate-limited)",
          tags=TAGS, query=ReceiptQuery, response=ReceiptCheck, public=True, errors=(404,))
def verify_receipt(query: ReceiptQuery, request, *, receipts=Service("receipts")):
    identity = (request.context or {}).get("identity") or {}
    client = identity.get("sourceIp") or ""
    return receipts.verify(query.t, query.c, query.s, query.h, client=client)
