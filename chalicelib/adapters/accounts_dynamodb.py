"""The accounts table on DynamoDB (item layout: docs/decisions/0004-accounts-table.md).

Takes a boto3 DynamoDB client and the table name; never builds a client. Every multi-item change
is one ``TransactWriteItems`` whose conditions carry the rules (uniqueness, single use, last
admin); a cancelled transaction becomes ``Conflict`` naming the field at fault.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.accounts import (
    AuditorGrant,
    Invitation,
    Membership,
    OneTimeToken,
    ThrottleState,
    User,
)
from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.permissions import Role
from chalicelib.domain.tenant import Address, OpeningHours, Tenant
from chalicelib.ports.accounts import AccessRecord, TenantRoster

_ser = TypeSerializer()
_de = TypeDeserializer()


# ---- keys -----------------------------------------------------------------------------------
def tenant_key(tenant_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": "TENANT"}


def member_key(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": f"MEMBER#{user_id}"}


def user_key(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "USER"}


def email_key(email: str) -> dict[str, str]:
    return {"pk": f"EMAIL#{email}", "sk": "EMAIL"}


def company_key(country: str, number: str) -> dict[str, str]:
    return {"pk": f"COMPANY#{country}#{number}", "sk": "COMPANY"}


def token_key(token_hash: str) -> dict[str, str]:
    return {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}


def invitation_key(tenant_id: str, invitation_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": f"INVITE#{invitation_id}"}


def grant_key(tenant_id: str, grant_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": f"GRANT#{grant_id}"}


def throttle_key(key: str) -> dict[str, str]:
    return {"pk": f"THROTTLE#{key}", "sk": "SIGNIN"}


def session_key(session_id: str) -> dict[str, str]:
    return {"pk": f"SESSION#{session_id}", "sk": "REVOKED"}


# ---- values ---------------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _dump(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in attrs.items() if v is not None}


def _load(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def tenant_item(tenant: Tenant, admin_count: int) -> dict[str, Any]:
    a = tenant.address
    return {
        **tenant_key(tenant.tenant_id),
        "type": "tenant",
        "tenant_id": tenant.tenant_id,
        "company_name": tenant.company_name,
        "country": tenant.country,
        "company_number": tenant.company_number,
        "vat_number": tenant.vat_number,
        "address": None
        if a is None
        else {
            "line1": a.line1,
            "line2": a.line2,
            "postal_code": a.postal_code,
            "city": a.city,
            "country": a.country,
        },
        "time_zone": tenant.time_zone,
        "business_day_cutoff": tenant.business_day_cutoff.strftime("%H:%M"),
        "mode": tenant.mode,
        "production_since": _iso(tenant.production_since),
        "created_at": _iso(tenant.created_at),
        "admin_count": admin_count,
        "opening_hours": _opening_hours_item(tenant.opening_hours),
    }


def _opening_hours_item(hours: OpeningHours | None) -> dict[str, list[str]] | None:
    """Stored as ``{"mon": ["09:00-19:00"], ..., "sun": []}`` (absent: unknown)."""
    return None if hours is None else {day: windows or [] for day, windows in hours.to_json().items()}


def tenant_from(item: dict[str, Any]) -> Tenant:
    a = item.get("address")
    return Tenant(
        tenant_id=item["tenant_id"],
        company_name=item.get("company_name", ""),
        country=item.get("country", ""),
        company_number=item.get("company_number", ""),
        vat_number=item.get("vat_number", ""),
        address=None
        if not a
        else Address(
            a.get("line1", ""),
            a.get("postal_code", ""),
            a.get("city", ""),
            a.get("country", ""),
            a.get("line2", ""),
        ),
        time_zone=item.get("time_zone", ""),
        business_day_cutoff=time.fromisoformat(item.get("business_day_cutoff", "04:00")),
        mode=item.get("mode", "test"),
        production_since=_dt(item.get("production_since")),
        created_at=_dt(item["created_at"]),
        # Items written before opening hours existed have none: unknown.
        opening_hours=OpeningHours.from_json(item["opening_hours"]) if item.get("opening_hours") else None,
    )


def user_item(user: User) -> dict[str, Any]:
    return {
        **user_key(user.user_id),
        "type": "user",
        "user_id": user.user_id,
        "email": user.email,
        "email_verified": user.email_verified,
        "operator": user.operator,
        "created_at": _iso(user.created_at),
        "display_name": user.display_name or None,
    }


def user_from(item: dict[str, Any]) -> User:
    return User(
        item["user_id"],
        item["email"],
        bool(item.get("email_verified")),
        bool(item.get("operator")),
        _dt(item.get("created_at")),
        item.get("display_name", ""),  # absent in items older than display names: the email stands in
    )


def member_item(m: Membership) -> dict[str, Any]:
    return {
        **member_key(m.tenant_id, m.user_id),
        "type": "membership",
        "gsi1pk": f"USER#{m.user_id}",
        "gsi1sk": f"MEMBER#{m.tenant_id}",
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "email": m.email,
        "role": str(m.role),
        "status": m.status,
        "joined_at": _iso(m.joined_at),
        "valid_until": _iso(m.valid_until),
        "grant_id": m.grant_id,
        "display_name": m.display_name or None,
    }


def member_from(item: dict[str, Any]) -> Membership:
    return Membership(
        item["tenant_id"],
        item["user_id"],
        item["email"],
        Role(item["role"]),
        item["status"],
        _dt(item.get("joined_at")),
        _dt(item.get("valid_until")),
        item.get("grant_id"),
        item.get("display_name", ""),  # absent in items older than display names: the email stands in
    )


def token_item(t: OneTimeToken) -> dict[str, Any]:
    return {
        **token_key(t.token_hash),
        "type": "token",
        "purpose": t.purpose,
        "expires": _iso(t.expires_at),
        "expires_at": _epoch(t.expires_at) + 86_400,  # TTL: kept one day past expiry, then swept
        "user_id": t.user_id,
        "tenant_id": t.tenant_id,
        "invitation_id": t.invitation_id,
        "used_at": _iso(t.used_at),
    }


def token_from(item: dict[str, Any]) -> OneTimeToken:
    return OneTimeToken(
        item["pk"].removeprefix("TOKEN#"),
        item["purpose"],
        _dt(item["expires"]),
        item.get("user_id"),
        item.get("tenant_id"),
        item.get("invitation_id"),
        _dt(item.get("used_at")),
    )


def invitation_item(i: Invitation) -> dict[str, Any]:
    return {
        **invitation_key(i.tenant_id, i.invitation_id),
        "type": "invitation",
        "invitation_id": i.invitation_id,
        "tenant_id": i.tenant_id,
        "email": i.email,
        "role": str(i.role),
        "invited_by": i.invited_by,
        "created_at": _iso(i.created_at),
        "expires": _iso(i.expires_at),
        "status": i.status,
        "grant_id": i.grant_id,
        "display_name": i.display_name or None,
    }


def invitation_from(item: dict[str, Any]) -> Invitation:
    return Invitation(
        item["invitation_id"],
        item["tenant_id"],
        item["email"],
        Role(item["role"]),
        item["invited_by"],
        _dt(item["created_at"]),
        _dt(item["expires"]),
        item["status"],
        item.get("grant_id"),
        item.get("display_name", ""),
    )


def grant_item(g: AuditorGrant) -> dict[str, Any]:
    return {
        **grant_key(g.tenant_id, g.grant_id),
        "type": "auditor_grant",
        "grant_id": g.grant_id,
        "tenant_id": g.tenant_id,
        "email": g.email,
        "valid_until": _iso(g.valid_until),
        "granted_by": g.granted_by,
        "created_at": _iso(g.created_at),
        "status": g.status,
        "user_id": g.user_id,
        "note": g.note or None,
    }


def grant_from(item: dict[str, Any]) -> AuditorGrant:
    return AuditorGrant(
        item["grant_id"],
        item["tenant_id"],
        item["email"],
        _dt(item["valid_until"]),
        item["granted_by"],
        _dt(item["created_at"]),
        item["status"],
        item.get("user_id"),
        item.get("note", ""),
    )


# ---- the store ------------------------------------------------------------------------------
_NEW = "attribute_not_exists(pk)"


class DynamoAccountsStore:
    def __init__(self, client, table_name: str) -> None:
        self._db = client
        self._table = table_name

    # -- plumbing
    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        try:
            reply = self._db.get_item(TableName=self._table, Key=_dump(key), ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"the accounts table cannot be read: {exc}") from exc
        return _load(reply["Item"]) if "Item" in reply else None

    def _put(self, attrs: dict[str, Any], condition: str | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self._table, "Item": _dump(attrs)}
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self._db.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("this record already exists") from exc
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs["TableName"] = self._table
        try:
            while True:
                reply = self._db.query(**kwargs)
                items += [_load(i) for i in reply.get("Items", [])]
                if "LastEvaluatedKey" not in reply:
                    return items
                kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"the accounts table cannot be read: {exc}") from exc

    def _transact(self, operations: list[tuple[str, dict[str, Any], str]]) -> None:
        """Run ``(field, operation, kind)`` triples as one transaction; a failed condition raises
        Conflict naming the field of the first operation that failed."""
        items = []
        for _, op, kind in operations:
            body = {"TableName": self._table, **op}
            for name in ("Item", "Key"):
                if name in body:
                    body[name] = _dump(body[name])
            if "ExpressionAttributeValues" in body:
                body["ExpressionAttributeValues"] = _dump(body["ExpressionAttributeValues"])
            items.append({kind: body})
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
            reasons = exc.response.get("CancellationReasons") or []
            for (field, _, _), reason in zip(operations, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    raise Conflict(f"a condition on {field} failed", field=field) from exc
            raise Unavailable(f"the accounts transaction was cancelled: {reasons}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc

    @staticmethod
    def _put_op(
        attrs: dict[str, Any],
        condition: str = _NEW,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "Item": {k: v for k, v in attrs.items() if v is not None},
            "ConditionExpression": condition,
        }
        if values:
            op["ExpressionAttributeValues"] = values
        if names:
            op["ExpressionAttributeNames"] = names
        return op

    # -- users and uniqueness
    def get_user(self, user_id: str) -> User | None:
        item = self._get(user_key(user_id))
        return user_from(item) if item else None

    def user_id_for_email(self, email: str) -> str | None:
        item = self._get(email_key(email))
        return item["user_id"] if item else None

    def tenant_for_company(self, country: str, company_number: str) -> str | None:
        item = self._get(company_key(country, company_number))
        return item["tenant_id"] if item else None

    def _user_ops(self, user: User) -> list[tuple[str, dict[str, Any], str]]:
        return [
            (
                "email",
                self._put_op({**email_key(user.email), "type": "email", "user_id": user.user_id}),
                "Put",
            ),
            ("user_id", self._put_op(user_item(user)), "Put"),
        ]

    def create_signup(self, tenant: Tenant, user: User, admin: Membership, token: OneTimeToken) -> None:
        self._transact(
            [
                *self._user_ops(user),
                (
                    "company_number",
                    self._put_op(
                        {
                            **company_key(tenant.country, tenant.company_number),
                            "type": "company",
                            "tenant_id": tenant.tenant_id,
                        }
                    ),
                    "Put",
                ),
                ("tenant_id", self._put_op(tenant_item(tenant, admin_count=1)), "Put"),
                ("membership", self._put_op(member_item(admin)), "Put"),
                ("token", self._put_op(token_item(token)), "Put"),
            ]
        )

    def create_user(self, user: User) -> None:
        self._transact(self._user_ops(user))

    # -- platform operators (the `scelle operator` command; no route reaches these)
    def set_operator(self, user_id: str) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_dump(user_key(user_id)),
                UpdateExpression="SET #op = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#op": "operator"},
                ExpressionAttributeValues=_dump({":yes": True}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("no such user", field="user_id") from exc
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc

    def operators(self) -> list[User]:
        """Every operator account. A Scan: operators are few and this runs from the command line
        only, never on a request path."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#type = :user AND #op = :yes",
            "ExpressionAttributeNames": {"#type": "type", "#op": "operator"},
            "ExpressionAttributeValues": _dump({":user": "user", ":yes": True}),
            "ConsistentRead": True,
        }
        found: list[User] = []
        try:
            while True:
                reply = self._db.scan(**kwargs)
                found += [user_from(_load(i)) for i in reply.get("Items", [])]
                if "LastEvaluatedKey" not in reply:
                    return found
                kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"the accounts table cannot be read: {exc}") from exc

    def _use_token_op(self, token: OneTimeToken, now: datetime) -> tuple[str, dict[str, Any], str]:
        return (
            "token",
            {
                "Key": token_key(token.token_hash),
                "UpdateExpression": "SET used_at = :now",
                "ConditionExpression": ("attribute_exists(pk) AND attribute_not_exists(used_at) AND expires > :now"),
                "ExpressionAttributeValues": {":now": _iso(now)},
            },
            "Update",
        )

    def verify_email(self, token: OneTimeToken, now: datetime) -> None:
        self._transact(
            [
                self._use_token_op(token, now),
                (
                    "user_id",
                    {
                        "Key": user_key(token.user_id or ""),
                        "UpdateExpression": "SET email_verified = :yes, verified_at = :now",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":yes": True, ":now": _iso(now)},
                    },
                    "Update",
                ),
            ]
        )

    # -- tenants
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._get(tenant_key(tenant_id))
        return tenant_from(item) if item else None

    def go_live(self, tenant_id: str, at: datetime) -> Tenant:
        try:
            reply = self._db.update_item(
                TableName=self._table,
                Key=_dump(tenant_key(tenant_id)),
                UpdateExpression="SET #mode = :prod, production_since = :at",
                ConditionExpression="attribute_exists(pk) AND #mode = :test",
                ExpressionAttributeNames={"#mode": "mode"},
                ExpressionAttributeValues=_dump({":prod": "production", ":test": "test", ":at": _iso(at)}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(
                    "the tenant is already in production; going live is irreversible and done once",
                    field="mode",
                ) from exc
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
        return tenant_from(_load(reply["Attributes"]))

    def update_tenant_settings(self, before: Tenant, after: Tenant) -> Tenant:
        """Write ``after``'s settings if the stored ones are still ``before``'s, else Conflict."""
        names = {"#tz": "time_zone", "#cut": "business_day_cutoff", "#oh": "opening_hours"}
        values: dict[str, Any] = {
            ":tz": after.time_zone,
            ":cut": after.business_day_cutoff.strftime("%H:%M"),
            ":old_tz": before.time_zone,
            ":old_cut": before.business_day_cutoff.strftime("%H:%M"),
        }
        update = "SET #tz = :tz, #cut = :cut"
        if after.opening_hours is None:
            update += " REMOVE #oh"
        else:
            update = "SET #tz = :tz, #cut = :cut, #oh = :oh"
            values[":oh"] = _opening_hours_item(after.opening_hours)
        # Time zone and cut-off are never removed; an item without them holds the defaults.
        condition = (
            "attribute_exists(pk) AND (attribute_not_exists(#tz) OR #tz = :old_tz)"
            " AND (attribute_not_exists(#cut) OR #cut = :old_cut)"
        )
        if before.opening_hours is None:
            condition += " AND attribute_not_exists(#oh)"
        else:
            condition += " AND #oh = :old_oh"
            values[":old_oh"] = _opening_hours_item(before.opening_hours)
        try:
            reply = self._db.update_item(
                TableName=self._table,
                Key=_dump(tenant_key(before.tenant_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_dump(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("the tenant's settings were changed meanwhile", field="settings") from exc
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc
        return tenant_from(_load(reply["Attributes"]))

    # -- tokens
    def get_token(self, token_hash: str) -> OneTimeToken | None:
        item = self._get(token_key(token_hash))
        return token_from(item) if item else None

    def put_token(self, token: OneTimeToken) -> None:
        self._put(token_item(token), _NEW)

    # -- memberships, invitations, grants
    def get_access(self, tenant_id: str, user_id: str) -> tuple[User | None, Membership | None]:
        items = self._get_many([user_key(user_id), member_key(tenant_id, user_id)])
        user = next((user_from(i) for i in items if i["sk"] == "USER"), None)
        member = next((member_from(i) for i in items if i["sk"].startswith("MEMBER#")), None)
        return user, member

    def read_access(self, tenant_id: str, user_id: str, session_id: str = "") -> AccessRecord:
        keys = [user_key(user_id), member_key(tenant_id, user_id), tenant_key(tenant_id)]
        if session_id:
            keys.append(session_key(session_id))
        found = {(i["pk"], i["sk"]): i for i in self._get_many(keys)}

        def item(key: dict[str, str]) -> dict[str, Any] | None:
            return found.get((key["pk"], key["sk"]))

        user, member, tenant = (item(k) for k in keys[:3])
        return AccessRecord(user_from(user) if user else None, member_from(member) if member else None,
                            tenant_from(tenant) if tenant else None,
                            bool(session_id) and item(session_key(session_id)) is not None)

    def _get_many(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Items of ``keys`` (at most 100) in one consistent BatchGetItem; absent ones left out."""
        try:
            reply = self._db.batch_get_item(
                RequestItems={self._table: {"Keys": [_dump(k) for k in keys], "ConsistentRead": True}})
            if reply.get("UnprocessedKeys"):  # rare: throttled; read them one by one
                return [i for i in map(self._get, keys) if i]
            return [_load(i) for i in reply.get("Responses", {}).get(self._table, [])]
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"the accounts table cannot be read: {exc}") from exc

    def roster(self, tenant_id: str) -> TenantRoster:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_dump({":pk": f"TENANT#{tenant_id}"}),
            ConsistentRead=True,
        )
        return TenantRoster(
            members=[member_from(i) for i in items if i["sk"].startswith("MEMBER#")],
            invitations=[invitation_from(i) for i in items if i["sk"].startswith("INVITE#")],
            grants=[grant_from(i) for i in items if i["sk"].startswith("GRANT#")],
        )

    def memberships_of(self, user_id: str) -> list[Membership]:
        items = self._query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :m)",
            ExpressionAttributeValues=_dump({":pk": f"USER#{user_id}", ":m": "MEMBER#"}),
        )
        return [member_from(i) for i in items]

    def create_invitation(self, invitation: Invitation, token: OneTimeToken, grant: AuditorGrant | None) -> None:
        ops = [
            (
                "tenant_id",
                {"Key": tenant_key(invitation.tenant_id), "ConditionExpression": "attribute_exists(pk)"},
                "ConditionCheck",
            ),
            ("invitation_id", self._put_op(invitation_item(invitation)), "Put"),
            ("token", self._put_op(token_item(token)), "Put"),
        ]
        if grant is not None:
            ops.append(("grant_id", self._put_op(grant_item(grant)), "Put"))
        self._transact(ops)

    def get_invitation(self, tenant_id: str, invitation_id: str) -> Invitation | None:
        item = self._get(invitation_key(tenant_id, invitation_id))
        return invitation_from(item) if item else None

    def accept_invitation(
        self,
        token: OneTimeToken,
        invitation: Invitation,
        membership: Membership,
        new_user: User | None,
        now: datetime,
    ) -> None:
        ops = [
            self._use_token_op(token, now),
            (
                "invitation",
                {
                    "Key": invitation_key(invitation.tenant_id, invitation.invitation_id),
                    "UpdateExpression": "SET #status = :accepted, accepted_at = :now, user_id = :uid",
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":accepted": "accepted",
                        ":pending": "pending",
                        ":now": _iso(now),
                        ":uid": membership.user_id,
                    },
                },
                "Update",
            ),
            (
                "membership",
                self._put_op(
                    member_item(membership),
                    "attribute_not_exists(pk) OR #status <> :active",
                    values={":active": "active"},
                    names={"#status": "status"},
                ),
                "Put",
            ),
        ]
        if new_user is not None:
            ops += self._user_ops(new_user)
        if membership.counts_as_admin:
            ops.append(self._admin_count_op(membership.tenant_id, +1))
        if invitation.grant_id:
            ops.append(
                (
                    "grant",
                    {
                        "Key": grant_key(invitation.tenant_id, invitation.grant_id),
                        "UpdateExpression": "SET #status = :active, user_id = :uid",
                        "ConditionExpression": "#status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":active": "active",
                            ":pending": "pending",
                            ":uid": membership.user_id,
                        },
                    },
                    "Update",
                )
            )
        self._transact(ops)

    def _admin_count_op(self, tenant_id: str, delta: int) -> tuple[str, dict[str, Any], str]:
        op: dict[str, Any] = {
            "Key": tenant_key(tenant_id),
            "UpdateExpression": "ADD admin_count :delta",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":delta": delta},
        }
        if delta < 0:
            op["ConditionExpression"] += " AND admin_count > :one"
            op["ExpressionAttributeValues"][":one"] = 1
        return ("last_admin", op, "Update")

    def update_membership(self, old: Membership, new: Membership) -> None:
        """Role, status and display name of ``new``, if the stored ones are still ``old``'s. An
        empty display name is no attribute (as in items written before display names existed)."""
        values: dict[str, Any] = {
            ":role": str(new.role),
            ":status": new.status,
            ":old_role": str(old.role),
            ":old_status": old.status,
            ":now": _iso(datetime.now(UTC)),
        }
        update = "SET #role = :role, #status = :status, updated_at = :now"
        condition = "#role = :old_role AND #status = :old_status"
        if new.display_name:
            update += ", #dn = :dn"
            values[":dn"] = new.display_name
        else:
            update += " REMOVE #dn"
        if old.display_name:
            condition += " AND #dn = :old_dn"
            values[":old_dn"] = old.display_name
        else:
            condition += " AND attribute_not_exists(#dn)"
        ops = [
            (
                "membership",
                {
                    "Key": member_key(old.tenant_id, old.user_id),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#role": "role", "#status": "status", "#dn": "display_name"},
                    "ExpressionAttributeValues": values,
                },
                "Update",
            )
        ]
        delta = int(new.counts_as_admin) - int(old.counts_as_admin)
        if delta:
            ops.append(self._admin_count_op(old.tenant_id, delta))
        self._transact(ops)

    def get_grant(self, tenant_id: str, grant_id: str) -> AuditorGrant | None:
        item = self._get(grant_key(tenant_id, grant_id))
        return grant_from(item) if item else None

    def revoke_grant(self, grant: AuditorGrant, now: datetime) -> None:
        values = {":revoked": "revoked", ":now": _iso(now)}
        ops = [
            (
                "grant",
                {
                    "Key": grant_key(grant.tenant_id, grant.grant_id),
                    "UpdateExpression": "SET #status = :revoked, revoked_at = :now",
                    "ConditionExpression": "attribute_exists(pk) AND #status <> :revoked",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                },
                "Update",
            )
        ]
        if grant.user_id:
            ops.append(
                (
                    "membership",
                    {
                        "Key": member_key(grant.tenant_id, grant.user_id),
                        "UpdateExpression": "SET #status = :revoked, updated_at = :now",
                        "ConditionExpression": "grant_id = :gid",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {**values, ":gid": grant.grant_id},
                    },
                    "Update",
                )
            )
        self._transact(ops)

    # -- throttle and sessions
    def get_throttle(self, key: str) -> ThrottleState:
        item = self._get(throttle_key(key))
        if not item:
            return ThrottleState()
        return ThrottleState(
            int(item.get("failures", 0)), _dt(item.get("last_failure_at")), _dt(item.get("locked_until"))
        )

    def save_throttle(self, key: str, state: ThrottleState, expires: datetime | None) -> None:
        self._put(
            {
                **throttle_key(key),
                "type": "throttle",
                "failures": state.failures,
                "last_failure_at": _iso(state.last_failure_at),
                "locked_until": _iso(state.locked_until),
                "expires_at": _epoch(expires),
            }
        )

    def clear_throttle(self, key: str) -> None:
        try:
            self._db.delete_item(TableName=self._table, Key=_dump(throttle_key(key)))
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable(f"the accounts table cannot be written: {exc}") from exc

    def revoke_session(self, session_id: str, user_id: str, until: datetime) -> None:
        self._put(
            {
                **session_key(session_id),
                "type": "revoked_session",
                "user_id": user_id,
                "expires_at": _epoch(until),
            }
        )

    def session_revoked(self, session_id: str) -> bool:
        return self._get(session_key(session_id)) is not None
