"""Chains, signed checkpoints, published keys and on-demand verification."""

from __future__ import annotations

from typing import Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api.routing import endpoint
from chalicelib.api.schemas import ChainName, StrictModel, json_int
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.identity import Caller
from chalicelib.domain.permissions import Permission, allows
from chalicelib.wiring import Service

chains_bp = Blueprint(__name__)
TAGS = ("ledger",)


class ChainList(BaseModel):
    chains: list[str]


class CheckpointOut(BaseModel):
    chain: str
    size: int
    root: str
    timestamp: str
    key_id: str
    text: str = Field(description="the signed note, verifiable with the published key (docs/hash-format.md)")


class CheckpointList(BaseModel):
    checkpoints: list[CheckpointOut]


class ChainQuery(StrictModel):
    chain: ChainName


class SignRequest(StrictModel):
    chain: ChainName


class KeyOut(BaseModel):
    key_id: str
    not_before: str
    not_after: str | None
    public_key_pem: str
    # "log": signs checkpoints; "witness": the independent witness's key, which co-signs them
    # (decision 0024). Give it to `scelle verify --witness-key`.
    role: Literal["log", "witness"] = "log"


class KeyList(BaseModel):
    keys: list[KeyOut]


class VerifyRequest(StrictModel):
    chain: ChainName
    first_seq: json_int(ge=1) = 1  # type: ignore[valid-type]
    last_seq: json_int(ge=1) | None = None  # type: ignore[valid-type]


class VerifyReport(BaseModel):
    ok: bool
    chain: str
    verified_size: int
    root: str
    proven_size: int = Field(description="entries 1..proven_size are covered by a verified signed checkpoint")
    first_bad_seq: int | None
    reason: str
    detail: str


def checkpoint_out(chain: str, cp) -> CheckpointOut:
    return CheckpointOut(chain=chain, size=cp.size, root=cp.root, timestamp=cp.timestamp, key_id=cp.key_id,
                         text=cp.to_text())


def require_chain(directory, caller: Caller, chain: str) -> str:
    """A chain the tenant has; 404 otherwise (names of other tenants' chains never leak)."""
    if chain not in directory.chains(caller.tenant_id):
        raise NotFound(f"no chain {chain!r} in this tenant", field="chain")
    return chain


@endpoint(chains_bp, "GET", "/v1/tenants/{tenant_id}/chains", summary="List the tenant's chains", tags=TAGS,
          response=ChainList, permission=Permission.SALE_READ_OWN)
def list_chains(tenant_id: str, caller: Caller, *, chain_directory=Service("chain_directory")):
    return ChainList(chains=chain_directory.chains(tenant_id))


@endpoint(chains_bp, "GET", "/v1/tenants/{tenant_id}/checkpoints", summary="List a chain's signed checkpoints",
          tags=TAGS, query=ChainQuery, response=CheckpointList, permission=Permission.CLOSURE_READ,
          rules={"chain": "a chain of this tenant (else 404); a chain other than a register's sales chain also needs "
                          "ledger.read (else 403)"})
def list_checkpoints(tenant_id: str, caller: Caller, query: ChainQuery, *,
                     chain_directory=Service("chain_directory"), checkpoints=Service("checkpoints")):
    chain = require_chain(chain_directory, caller, query.chain)
    if ".sales." not in chain and not allows(caller.role, Permission.LEDGER_READ):
        # a manager reads the checkpoints of the registers (the Z report's fingerprint), not the journal's
        raise Forbidden(f"your role ({caller.role}) cannot read the checkpoints of the {chain} chain", field="chain")
    stored = checkpoints.list(tenant_id, chain)
    return CheckpointList(checkpoints=[checkpoint_out(chain, s.checkpoint) for s in stored])


@endpoint(chains_bp, "POST", "/v1/tenants/{tenant_id}/checkpoints", summary="Sign a checkpoint of a chain now",
          tags=TAGS, body=SignRequest, response=CheckpointOut, status=201, permission=Permission.CHECKPOINT_SIGN,
          errors=(409,))
def sign_checkpoint(tenant_id: str, caller: Caller, body: SignRequest, *,
                    chain_directory=Service("chain_directory"),
                    on_demand_checkpoints=Service("on_demand_checkpoints")):
    chain = require_chain(chain_directory, caller, body.chain)
    cp = on_demand_checkpoints.checkpoint(tenant_id, chain)
    if cp is None:
        raise NotFound(f"chain {chain!r} has no entry yet", field="chain")
    return checkpoint_out(chain, cp)


@endpoint(chains_bp, "POST", "/v1/tenants/{tenant_id}/verifications",
          summary="Verify a chain (or a range) now, from the stored data", tags=TAGS, body=VerifyRequest,
          response=VerifyReport, permission=Permission.LEDGER_VERIFY)
def verify(tenant_id: str, caller: Caller, body: VerifyRequest, *, chain_directory=Service("chain_directory"),
           verification=Service("verification"), full_verifier=Service("full_verifier")):
    chain = require_chain(chain_directory, caller, body.chain)
    report = verification.verify(tenant_id, chain, first_seq=body.first_seq, last_seq=body.last_seq)
    ok, reason, first_bad, detail = report.ok, str(report.reason), report.first_bad_seq, report.detail
    if body.last_seq is None:
        # To the head: compared with what the archive, the signed checkpoints and the stream verifier
        # saw, as the scheduled pass does (a chain rolled back with its pointers verifies as stored);
        # anything wrong is a tamper alarm, as there (the entries it names then read `altered`).
        found = full_verifier.verify(tenant_id, chain, first_seq=body.first_seq, report=report)
        if not found.ok:
            ok, reason, first_bad, detail = False, found.reason, found.seq, found.detail
    return VerifyReport(ok=ok, chain=chain, verified_size=report.size, root=report.root,
                        proven_size=report.proven_size, first_bad_seq=first_bad, reason=reason, detail=detail)


@endpoint(chains_bp, "GET", "/v1/keys", summary="Public keys that sign checkpoints, with their validity",
          tags=TAGS, response=KeyList, public=True)
def list_keys(*, key_registry=Service("key_registry"), ops_store=Service("ops_store")):
    from chalicelib.services.witness import published_keys_with_roles

    keys = published_keys_with_roles(key_registry, ops_store)
    return KeyList(keys=[KeyOut(key_id=k.key_id, not_before=k.not_before, not_after=k.not_after,
                                public_key_pem=k.public_key_pem, role=role) for k, role in keys])
