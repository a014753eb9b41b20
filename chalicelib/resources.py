"""The one declarative definition of Scellé's AWS resources.

The embedded local stack provisions from it (``chalicelib.local.provision``) and the CDK stack in
``infra/`` builds from it, so keys, indexes, streams and TTL cannot drift between the two.
Names here are logical; ``Settings.table_name`` / ``bucket_name`` add the stage prefix.
Pure data: no boto3 import.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # "S" | "N"


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None
    local: bool = False  # LSI (same partition key) rather than GSI


@dataclass(frozen=True)
class Table:
    logical: str
    partition: Key
    sort: Key | None = None
    indexes: tuple[Index, ...] = ()
    stream: str | None = None  # "NEW_AND_OLD_IMAGES" etc.
    ttl_attribute: str | None = None
    pitr: bool = True
    append_only: bool = False  # no principal may UpdateItem/DeleteItem (checked in infra tests)
    purpose: str = ""


@dataclass(frozen=True)
class Bucket:
    logical: str
    object_lock: bool = False
    versioned: bool = False
    expire_after_days: int | None = None
    cold_after_days: int | None = None
    purpose: str = ""
    # The methods the web console may use on the bucket from the browser, with a URL the API
    # pre-signs (a ticket attachment's POST): the bucket's CORS rule allows them from the console's
    # origin only (locally ``Settings.public_base_url``'s; on AWS the CloudFront domain's), no other.
    console_cors_methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class KmsKey:
    """A KMS key of the AWS stack. Local mode creates none of them in the emulator: each is a key
    file instead (``local:signing``, ``local:data``, ``local:write-proof``, ``local:witness``), so
    ``chalicelib.local.provision`` never reads this list."""

    logical: str
    spec: str  # "ECC_NIST_P256" | "SYMMETRIC_DEFAULT" | "HMAC_256"
    usage: str  # "SIGN_VERIFY" | "ENCRYPT_DECRYPT" | "GENERATE_VERIFY_MAC"
    rotation: bool = False  # automatic yearly rotation: symmetric ENCRYPT_DECRYPT keys only (KMS)
    purpose: str = ""

    def __post_init__(self) -> None:
        if self.rotation and (self.spec, self.usage) != ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
            raise ValueError(f"key {self.logical!r}: KMS rotates only SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT keys "
                             "automatically; a new asymmetric or HMAC key is a new key id")


@dataclass(frozen=True)
class Queue:
    """An SQS FIFO queue of scheduled work, one message per chain (decision 0028), with its
    dead-letter queue ``<logical>-dlq``. A message group is one chain: two units of one chain never
    run at once, units of different chains run side by side."""

    logical: str
    consumer: str  # the handler (Lambda function) that works the queue
    consumer_timeout_seconds: int
    job: str  # the units it carries (chalicelib.ports.work.JOBS)
    max_receives: int = 5  # then the unit goes to the dead-letter queue (and its alarm)
    purpose: str = ""
    # Stated, not left to AWS's default (which has changed: 256 KiB, up to 1 MiB since 2025), so
    # that the local stack and AWS refuse the same messages; a unit is about 200 bytes.
    max_message_bytes: int = 262_144

    @property
    def visibility_timeout_seconds(self) -> int:
        # AWS: at least six times the consumer's timeout, so that Lambda's own retries of a
        # throttled batch do not make the message visible to a second consumer meanwhile.
        return 6 * self.consumer_timeout_seconds


@dataclass(frozen=True)
class UserPool:
    logical: str
    password_min_length: int
    require_upper: bool = True
    require_lower: bool = True
    require_digits: bool = True
    require_symbols: bool = False
    auth_flows: tuple[str, ...] = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


@dataclass(frozen=True)
class Resources:
    tables: tuple[Table, ...]
    buckets: tuple[Bucket, ...]
    keys: tuple[KmsKey, ...]
    user_pool: UserPool
    queues: tuple[Queue, ...] = ()
    extras: dict[str, str] = field(default_factory=dict)

    def table(self, logical: str) -> Table:
        return next(t for t in self.tables if t.logical == logical)


_PK_S = Key("pk", "S")
_SK_N = Key("sk", "N")
_SK_S = Key("sk", "S")

RESOURCES = Resources(
    tables=(
        Table(
            "journal",
            _PK_S,
            _SK_N,
            stream="NEW_AND_OLD_IMAGES",
            append_only=True,
            purpose="Sealed ledger entries: pk=TENANT#<id>#CHAIN#<name>, sk=seq. Never updated.",
        ),
        Table(
            "events",
            _PK_S,
            _SK_N,
            stream="NEW_AND_OLD_IMAGES",
            ttl_attribute="ttl",  # a storage attribute outside the hashed record (hash format v1)
            append_only=True,
            purpose="Event journal (JET) chains, hot for 30 days (TTL), archived beyond.",
        ),
        Table(
            "checkpoints",
            _PK_S,
            _SK_N,
            stream="NEW_AND_OLD_IMAGES",
            append_only=True,
            purpose="Signed checkpoints: pk=chain key, sk=size.",
        ),
        Table(
            "tiles",
            _PK_S,
            _SK_N,
            append_only=True,
            purpose="Tiles of each chain's Merkle tree (decision 0026): pk=chain key, sk=level/index/width, "
                    "hashes=concatenated 32-byte node hashes. An unsigned index for O(log n) inclusion proofs, "
                    "written by the signers, never updated.",
        ),
        Table(
            "keys",
            _PK_S,
            _SK_S,
            purpose="Published checkpoint signing keys and their validity: written only by the signing "
                    "functions, never by the API (decision 0019, issue 14 item 3).",
        ),
        Table(
            "accounts",
            _PK_S,
            _SK_S,
            indexes=(Index("gsi1", Key("gsi1pk", "S"), Key("gsi1sk", "S")),),
            ttl_attribute="expires_at",
            purpose="Tenants, users, memberships, invitations, grants, email tokens, throttles.",
        ),
        Table(
            "idempotency",
            _PK_S,
            ttl_attribute="expires_at",
            purpose="Idempotency keys: a retried POST returns its first result.",
        ),
        Table(
            "ops",
            _PK_S,
            _SK_S,
            ttl_attribute="expires_at",
            purpose="Operational state: verifier heads, archive positions, jobs, anomalies.",
        ),
        Table(
            "support",
            _PK_S,
            _SK_S,
            indexes=(Index("gsi1", Key("gsi1pk", "S"), Key("gsi1sk", "S")),),
            purpose="Tickets, news, mailings.",
        ),
    ),
    buckets=(
        Bucket(
            "archive",
            object_lock=True,
            versioned=True,
            cold_after_days=365,
            purpose="WORM archive of every entry and checkpoint (Object Lock, compliance mode).",
        ),
        # GET: the console's "Verify here" reads a finished archive through its pre-signed URL
        # (console/js/views/verify.js) to verify it in the browser.
        Bucket("exports", expire_after_days=7, purpose="Fiscal export archives, downloaded by signed URL.",
               console_cors_methods=("GET",)),
        Bucket("support", expire_after_days=400, purpose="Ticket attachments and inbound mail.",
               console_cors_methods=("POST",)),
    ),
    keys=(
        KmsKey("signing", "ECC_NIST_P256", "SIGN_VERIFY", purpose="Signs checkpoints and export manifests."),
        KmsKey("data", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", rotation=True, purpose="Archive encryption."),
        # No automatic rotation for HMAC keys: a rotation is a new key, the old ARN kept enabled
        # and listed in SCELLE_WRITE_PROOF_RETIRED_KEY_IDS (decision 0022).
        KmsKey(
            "write_proof",
            "HMAC_256",
            "GENERATE_VERIFY_MAC",
            purpose="Write proofs: HMAC of every sealed entry, made only by the sealing functions (decision 0022).",
        ),
        # The independent witness's own key (decision 0024): only the witness function signs with it.
        KmsKey(
            "witness",
            "ECC_NIST_P256",
            "SIGN_VERIFY",
            purpose="The independent witness's key: co-signs checkpoints consistent with those it saw (decision 0024).",
        ),
    ),
    user_pool=UserPool("users", password_min_length=10),
    queues=(
        Queue("sign-work", "sign_chain", 120, "sign",
              purpose="One unit per chain every 5 minutes: sign a checkpoint over new entries, have the witness "
                      "co-sign it, mail due Z reports, flush the archive."),
        Queue("close-work", "close_chain", 300, "close",
              purpose="One unit per production ledger chain every hour: close every ended day, then month, then year."),
        Queue("verify-work", "verify_chain", 900, "verify",
              purpose="One unit per production chain every hour: derive missed events, re-verify the chain (in "
                      "slices, each unit sending its continuation) against its witnesses."),
    ),
)
