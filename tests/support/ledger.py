"""A LedgerService on the real embedded adapters with a fixed tenant and a controllable clock,
for tests that need days to pass (closures) or data to tamper with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.checkpoint_store import DynamoDBCheckpointStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Role
from chalicelib.domain.tenant import Tenant
from chalicelib.local.clock import MovingClock
from chalicelib.services.checkpoints import CheckpointCadence, CheckpointService, KeyRegistry
from chalicelib.services.ledger import LedgerService
from chalicelib.services.sealing import ChainWriter
from chalicelib.services.verification import VerificationService


class OneTenant:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str) -> Tenant:
        return self.tenant


@dataclass
class TestLedger:
    ledger: LedgerService
    checkpoints: CheckpointService
    verification: VerificationService
    tenant: Tenant
    caller: Caller
    clock: MovingClock


def ledger_on(container, tmp_path, *, start: datetime, mode: str = "production", every: int = 1000) -> TestLedger:
    """Real adapters, a fixed tenant, a moving clock, and a signing key of its own published at
    ``start`` (the session's key is published at the real time, after any clock we invent)."""
    tenant = Tenant(
        tenant_id=f"t{uuid.uuid4().hex[:20]}",  # the shape of real tenant ids (domain.accounts.new_id)
        company_name="Tamper Test",
        country="BE",
        company_number="0403170701",
        vat_number="BE0403170701",
        mode=mode,
        created_at=start - timedelta(days=1),
    )
    clock = MovingClock(start - timedelta(days=1))
    s = container.settings
    store = DynamoDBCheckpointStore(container.dynamodb, s.table_name("checkpoints"), s.table_name("ops"),
                                    keys_partition=f"KEYS#{tenant.tenant_id}")
    signer = LocalSigner(tmp_path, f"key-{tenant.tenant_id}")
    keys = KeyRegistry(store, signer, clock=clock)
    keys.ensure_current()
    clock.set(start)
    # The deployment's write-proof key, as every writer and verifier of the stack has (decision 0022).
    proofs = container.write_proofs
    checkpoints = CheckpointService(container.journal_store, store, signer, keys, clock=clock, proofs=proofs,
                                    tiles=container.tile_store)
    from chalicelib.bootstrap import _ledger_extra_checks

    verification = VerificationService(container.journal_store, store, keys, extra_checks=_ledger_extra_checks,
                                       proofs=proofs, tiles=container.tile_store)
    ledger = LedgerService(
        writer=ChainWriter(container.journal_store, clock=clock, prover=proofs),
        directory=container.chain_directory,
        index=container.ledger_index,
        checkpoints=checkpoints,
        tenants=OneTenant(tenant),
        checkpoint_every=every,
        clock_skew=timedelta(minutes=5),
        clock=clock,
        # This test ledger's own signer, not the stack's: its cadence runs as entries are sealed.
        after_seal=CheckpointCadence(checkpoints, every).after_entry,
    )
    caller = Caller(Principal("u-admin", "admin@example.com"), tenant.tenant_id, Role.ADMIN)
    return TestLedger(ledger, checkpoints, verification, tenant, caller, clock)


def sale_request(clock: MovingClock, cents: int, register: str = "R1") -> dict:
    euros = f"{cents // 100}.{cents % 100:02d}"
    return {
        "client_receipt_id": f"r-{uuid.uuid4().hex[:12]}",
        "register_id": register,
        "occurred_at": clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"description": "Article", "quantity": "1", "unit_price": euros, "vat_rate": "21"}],
        "payments": [{"method": "card", "amount": euros}],
    }


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
