"""What every model shares: the endpoint (from ``Settings``, as ``bootstrap.Container.client`` gives
boto3), the ``Meta`` of a model bound to one table, UTC time attributes, domain mapping and the
translation of pynamodb's errors into the domain's."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.domain.errors import Unavailable


@dataclass(frozen=True)
class Endpoint:
    """Where and how models reach DynamoDB. The same region, endpoint, local credentials, timeouts
    and retries as the boto3 clients of ``bootstrap.Container.client``: botocore's standard retry
    mode with 3 retries (pynamodb's ``max_retry_attempts`` counts retries, as boto3's
    ``max_attempts`` does), 3 s to connect, 15 s to read."""

    region: str
    host: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    connect_timeout_seconds: float = 3
    read_timeout_seconds: float = 15
    max_retry_attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> Endpoint:
        local = settings.mode == "local"  # moto accepts any credentials; never use a real profile
        return cls(region=settings.region, host=settings.aws_endpoint_url or None,
                   aws_access_key_id="local" if local else None,
                   aws_secret_access_key="local" if local else None)


def meta(table_name: str, endpoint: Endpoint) -> type:
    """The ``Meta`` of a model bound to ``table_name`` at ``endpoint``."""
    return type("Meta", (), {
        "table_name": table_name,
        "region": endpoint.region,
        "host": endpoint.host,
        "aws_access_key_id": endpoint.aws_access_key_id,
        "aws_secret_access_key": endpoint.aws_secret_access_key,
        "connect_timeout_seconds": endpoint.connect_timeout_seconds,
        "read_timeout_seconds": endpoint.read_timeout_seconds,
        "max_retry_attempts": endpoint.max_retry_attempts,
    })


def one_client(*models: type) -> None:
    """Let every model of one table share one botocore client. pynamodb gives each model class a
    connection of its own, each with its own botocore session and client (~150 ms to build on
    this machine kind): without this, the first request would pay it once per record kind. The
    table description of an indexed model is registered first, so index queries find ``gsi1``."""
    shared = None
    for cls in sorted(models, key=lambda c: bool(c._indexes), reverse=True):
        table = cls._get_connection()
        if shared is None:
            shared = table.connection
        else:
            table.connection = shared


class Gsi1(GlobalSecondaryIndex):
    """``gsi1`` (gsi1pk / gsi1sk, every attribute projected) of the accounts and support tables.
    Instantiate it inside a bound model: an index instance belongs to one model class."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with milliseconds, ``Z`` suffix: lexically ordered, so conditions compare it."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UtcTimeAttribute(UnicodeAttribute):
    """A datetime stored as an RFC 3339 UTC string (``2025-03-01T12:00:00.123Z``)."""

    def serialize(self, value: datetime) -> str:
        return iso(value)

    def deserialize(self, value: str) -> datetime | None:
        return datetime.fromisoformat(value) if value else None


class DomainMap(MapAttribute):
    """A map attribute that is one frozen domain dataclass (``domain``)."""

    domain: ClassVar[type]

    def to_domain(self) -> Any:
        return self.domain(**{f.name: getattr(self, f.name) for f in fields(self.domain)})

    @classmethod
    def of(cls, value: Any) -> DomainMap | None:
        return None if value is None else cls(**{f.name: getattr(value, f.name) for f in fields(value)})


class DomainItem:
    """Mixin of a model whose attributes are named as the fields of a frozen dataclass
    (``domain``): the typed attributes convert, the mapping is by name."""

    domain: ClassVar[type]

    def to_domain(self) -> Any:
        kwargs: dict[str, Any] = {}
        for f in fields(self.domain):
            value = getattr(self, f.name, None)
            if value is None and (f.default is not MISSING or f.default_factory is not MISSING):
                continue  # not stored: the dataclass default
            kwargs[f.name] = value.to_domain() if isinstance(value, DomainMap) else value
        return self.domain(**kwargs)

    @classmethod
    def attributes_of(cls, value: Any) -> dict[str, Any]:
        """The dataclass's fields as model attributes (maps wrapped in their attribute class)."""
        attrs = cls.get_attributes()  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        for f in fields(value):
            v = getattr(value, f.name)
            attr = attrs[f.name]
            out[f.name] = attr.of(v) if isinstance(attr, DomainMap) else v
        return out


def conditional_failed(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def unavailable(what: str, exc: PynamoDBException) -> Unavailable:
    """An infrastructure failure (throttling, network, a missing table) as the domain's 503."""
    return Unavailable(f"{what} failed: {exc.cause_response_code or exc}")
