"""Continuous-verification test harness: a private set of tables, buckets and streams (own
resource prefix) on the session's moto server, the local stream pump over them, and fakes for
mail. Private, so that the pump only sees these tests' records and a rollback test may replace
a whole table without disturbing the rest of the suite."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib import bootstrap
from chalicelib.config import Settings
from chalicelib.domain.records import chain_key
from chalicelib.local.provision import Provisioned, provision
from chalicelib.local.pump import StreamPump


@dataclass
class FakeMailer:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        self.sent.append((to, subject, text))
        return f"m{len(self.sent)}"


@dataclass
class ContinuousStack:
    settings: Settings
    provisioned: Provisioned
    data_dir: Path
    mailer: FakeMailer = field(default_factory=FakeMailer)
    _pump: StreamPump | None = None

    def container(self, **overrides) -> bootstrap.Container:
        overrides.setdefault("mailer", self.mailer)
        return bootstrap.configure(self.settings, **overrides)

    def pump(self, *, fresh: bool = False, state_file: Path | None = None) -> StreamPump:
        """The pump over this stack's streams (one per stack unless ``fresh``)."""
        from app import app

        if fresh or self._pump is None:
            pump = StreamPump(app, bootstrap.Container(self.settings).client("dynamodbstreams"),
                              self.provisioned.stream_arns, state_file or self.data_dir / "pump.json",
                              region=self.settings.region)
            if fresh:
                return pump
            self._pump = pump
        return self._pump

    def drain(self) -> int:
        return self.pump().drain()


@contextmanager
def private_stack(base, data_dir: Path):
    settings = base.settings.model_copy(update={"resource_prefix": f"cv{uuid.uuid4().hex[:10]}",
                                                "data_dir": data_dir})
    provisioned = provision(bootstrap.Container(settings).client, settings)
    settings = settings.model_copy(update={"user_pool_id": provisioned.user_pool_id,
                                           "user_pool_client_id": provisioned.user_pool_client_id})
    cv = ContinuousStack(settings, provisioned, data_dir)
    try:
        yield cv
    finally:
        bootstrap.configure(base.settings)


def new_tenant() -> str:
    return f"t{uuid.uuid4().hex[:20]}"  # the shape of real tenant ids (domain.accounts.new_id)


def append(container, tenant: str, chain: str, n: int, *, start: int = 0) -> list:
    """``n`` entries of a type the closure check ignores (memo), registered in the directory."""
    container.chain_directory.register(tenant, chain)
    writer = container.chain_writer
    return [writer.append(tenant, chain, "memo", {"n": start + i, "note": f"memo {start + i + 1}"}, training=False)
            for i in range(n)]


def key(tenant: str, chain: str) -> str:
    return chain_key(tenant, chain)


def alarms(container, tenant: str) -> list[dict]:
    return container.tamper_alarms.list(tenant)
