"""Shared helpers: timing, peak memory, a fresh embedded stack, realistic sale records."""

from __future__ import annotations

import statistics
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (seconds)."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def peak_memory(fn: Callable[[], object]) -> tuple[object, int]:
    """(result, peak bytes allocated by Python while ``fn`` ran)."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")


def embedded_stack(tmp_dir):
    """A moto server on loopback with Scellé's tables provisioned under a fresh prefix."""
    from chalicelib import bootstrap
    from chalicelib.config import load_settings
    from chalicelib.local.moto_server import EmbeddedMoto
    from chalicelib.local.provision import provision

    moto = EmbeddedMoto().start()
    settings = load_settings({
        "SCELLE_MODE": "local",
        "SCELLE_AWS_ENDPOINT_URL": moto.endpoint,
        "SCELLE_RESOURCE_PREFIX": f"b{uuid.uuid4().hex[:8]}",
        "SCELLE_LOCAL_KEY_DIR": str(tmp_dir),
        "SCELLE_SIGNING_KEY_ID": "local:signing",
    })
    provisioned = provision(bootstrap.Container(settings).client, settings)
    settings = settings.model_copy(update={"user_pool_id": provisioned.user_pool_id,
                                           "user_pool_client_id": provisioned.user_pool_client_id})
    return moto, bootstrap.configure(settings)


def sale_payload(i: int) -> dict:
    """A realistic ~1 KB sale payload, as the ledger seals it."""
    from chalicelib.domain.entries import Actor
    from chalicelib.domain.sales import build_sale

    now = datetime(2026, 3, 10, 10, tzinfo=UTC) + timedelta(seconds=i)
    request = {
        "client_receipt_id": f"r-{i}",
        "register_id": "R1",
        "occurred_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [
            {"description": "Croissant au beurre", "quantity": "3", "unit_price": "1.20", "vat_rate": "6"},
            {"description": "Café crème", "quantity": "2", "unit_price": "2.80", "vat_rate": "21"},
        ],
        "payments": [{"method": "card", "amount": "9.20"}],
    }
    return build_sale(request, country="BE", time_zone="Europe/Brussels", cutoff=datetime.min.time().replace(hour=4),
                      seller=Actor("u-1", "Anne"), now=now + timedelta(minutes=1))
