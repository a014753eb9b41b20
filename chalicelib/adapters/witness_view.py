"""The witness's view in write-once object storage (decision 0024): one object per co-signed
checkpoint, ``witness/v1/<tenant>/<chain>/<size, 12 digits>.cosig``, locked like the archive.

Each object is the cosignature text, signed by the witness itself, so an object planted by
anyone else under this prefix does not verify and is refused, never believed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from chalicelib.domain.records import parse_chain_key
from chalicelib.domain.witness import Cosignature

DEFAULT_RETENTION_YEARS = 10


def witness_prefix(chain_key: str) -> str:
    tenant_id, chain = parse_chain_key(chain_key)
    return f"witness/v1/{quote(tenant_id, safe='')}/{quote(chain, safe='')}/"


class ObjectWitnessView:
    def __init__(self, objects, *, retention_years: int = DEFAULT_RETENTION_YEARS, clock=lambda: datetime.now(UTC)):
        self._objects = objects
        self._years = retention_years
        self._clock = clock
        self._last_key: dict[str, str] = {}  # listing resumes here: keys only grow

    def latest(self, chain_key: str) -> str | None:
        last = self._last_key.get(chain_key)
        for key in self._objects.keys(witness_prefix(chain_key), start_after=last):
            last = key
        if last is None:
            return None
        self._last_key[chain_key] = last
        stored = self._objects.get(last)
        return stored.body.decode("utf-8", errors="replace") if stored is not None else None

    def put(self, cosignature: Cosignature) -> bool:
        key = f"{witness_prefix(cosignature.chain_key)}{cosignature.size:012d}.cosig"
        retain = self._clock() + timedelta(days=366 * self._years)
        return self._objects.put_new(key, cosignature.to_text().encode(), retain_until=retain,
                                     metadata={"size": str(cosignature.size), "root": cosignature.root})
