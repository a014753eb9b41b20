"""The accounts table on DynamoDB, through pynamodb models (``adapters/models/accounts.py``;
item layout: docs/decisions/0004-accounts-table.md).

Every multi-item change is one ``TransactWrite`` whose conditions carry the rules (uniqueness,
single use, last admin); a cancelled transaction becomes ``Conflict`` naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models.accounts import (
    OpeningHoursMap,
    accounts_models,
    company_key,
    email_key,
    grant_key,
    invitation_key,
    member_key,
    session_key,
    tenant_key,
    throttle_key,
    token_key,
    user_key,
)
from chalicelib.adapters.models.base import Endpoint, conditional_failed
from chalicelib.domain.accounts import AuditorGrant, Invitation, Membership, OneTimeToken, ThrottleState, User
from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.domain.tenant import Tenant
from chalicelib.ports.accounts import AccessRecord, TenantRoster


@contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except PynamoDBException as exc:
        raise Unavailable(f"the accounts table cannot be read: {exc.cause_response_code or exc}") from exc


def _writing(exc: PynamoDBException) -> Unavailable:
    return Unavailable(f"the accounts table cannot be written: {exc.cause_response_code or exc}")


class _Transaction:
    """Writes of one ``TransactWrite``, each with the field a failed condition names. pynamodb
    sends condition checks, then puts, then updates; a refusal names the first operation *as
    declared* whose condition failed."""

    def __init__(self) -> None:
        self._ops: list[tuple[int, str, str, Callable[[TransactWrite], None]]] = []

    def check(self, field: str, model: type, key: tuple[str, str], condition: Any) -> None:
        self._ops.append((0, str(len(self._ops)), field,
                          lambda tx: tx.condition_check(model, *key, condition=condition)))

    def put(self, field: str, item: Any, condition: Any) -> None:
        self._ops.append((1, str(len(self._ops)), field, lambda tx: tx.save(item, condition=condition)))

    def update(self, field: str, item: Any, actions: list[Any], condition: Any) -> None:
        self._ops.append((2, str(len(self._ops)), field,
                          lambda tx: tx.update(item, actions=actions, condition=condition)))

    def __iadd__(self, other: _Transaction) -> _Transaction:
        for kind, _, field, op in other._ops:
            self._ops.append((kind, str(len(self._ops)), field, op))
        return self

    def run(self, connection: Any) -> None:
        sent = sorted(self._ops, key=lambda op: op[0])  # pynamodb's order of the items sent
        try:
            with TransactWrite(connection=connection) as tx:
                for _, _, _, op in sent:
                    op(tx)
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise _writing(exc) from exc
            reasons = exc.cancellation_reasons
            failed = [(int(index), field) for (_, index, field, _), reason in zip(sent, reasons, strict=False)
                      if reason is not None and reason.code == "ConditionalCheckFailed"]
            if failed:
                field = min(failed)[1]
                raise Conflict(f"a condition on {field} failed", field=field) from exc
            raise Unavailable(f"the accounts transaction was cancelled: {reasons}") from exc


class DynamoAccountsStore:
    def __init__(self, endpoint: Endpoint, table_name: str) -> None:
        self._m = accounts_models(table_name, endpoint)

    # -- plumbing
    def _get(self, model: type, key: tuple[str, str]) -> Any | None:
        try:
            return model.get(*key, consistent_read=True)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise Unavailable(f"the accounts table cannot be read: {exc.cause_response_code or exc}") from exc

    def _put(self, item: Any, condition: Any = None) -> None:
        try:
            item.save(condition=condition)
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict("this record already exists") from exc
            raise _writing(exc) from exc

    def _run(self, tx: _Transaction) -> None:
        tx.run(self._m.Item._get_connection().connection)

    # -- users and uniqueness
    def get_user(self, user_id: str) -> User | None:
        item = self._get(self._m.User, user_key(user_id))
        return item.to_domain() if item else None

    def user_id_for_email(self, email: str) -> str | None:
        item = self._get(self._m.Email, email_key(email))
        return item.user_id if item else None

    def tenant_for_company(self, country: str, company_number: str) -> str | None:
        item = self._get(self._m.Company, company_key(country, company_number))
        return item.tenant_id if item else None

    def _new(self, tx: _Transaction, field: str, item: Any) -> None:
        tx.put(field, item, type(item).pk.does_not_exist())

    def _user_ops(self, user: User) -> _Transaction:
        tx = _Transaction()
        self._new(tx, "email", self._m.Email(*email_key(user.email), user_id=user.user_id))
        self._new(tx, "user_id", self._m.User.of(user))
        return tx

    def create_signup(self, tenant: Tenant, user: User, admin: Membership, token: OneTimeToken) -> None:
        m = self._m
        tx = self._user_ops(user)
        self._new(tx, "company_number", m.Company(*company_key(tenant.country, tenant.company_number),
                                                  tenant_id=tenant.tenant_id))
        self._new(tx, "tenant_id", m.Tenant.of(tenant, admin_count=1))
        self._new(tx, "membership", m.Membership.of(admin))
        self._new(tx, "token", m.Token.of(token))
        self._run(tx)

    def create_user(self, user: User) -> None:
        self._run(self._user_ops(user))

    # -- platform operators (the `scelle operator` command; no route reaches these)
    def set_operator(self, user_id: str) -> None:
        model = self._m.User
        try:
            model(*user_key(user_id)).update(actions=[model.operator.set(True)], condition=model.pk.exists())
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict("no such user", field="user_id") from exc
            raise _writing(exc) from exc

    def operators(self) -> list[User]:
        """Every operator account. A Scan: operators are few and this runs from the command line
        only, never on a request path."""
        model = self._m.User
        with _reading():
            return [u.to_domain() for u in model.scan(model.operator == True, consistent_read=True)]  # noqa: E712

    def _use_token(self, tx: _Transaction, token: OneTimeToken, now: datetime) -> None:
        model = self._m.Token
        tx.update("token", model(*token_key(token.token_hash)), [model.used_at.set(now)],
                  model.pk.exists() & model.used_at.does_not_exist() & (model.expires > now))

    def verify_email(self, token: OneTimeToken, now: datetime) -> None:
        model = self._m.User
        tx = _Transaction()
        self._use_token(tx, token, now)
        tx.update("user_id", model(*user_key(token.user_id or "")),
                  [model.email_verified.set(True), model.verified_at.set(now)], model.pk.exists())
        self._run(tx)

    # -- tenants
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = self._get(self._m.Tenant, tenant_key(tenant_id))
        return item.to_domain() if item else None

    def go_live(self, tenant_id: str, at: datetime) -> Tenant:
        model = self._m.Tenant
        item = model(*tenant_key(tenant_id))
        try:
            item.update(actions=[model.mode.set("production"), model.production_since.set(at)],
                        condition=model.pk.exists() & (model.mode == "test"))
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict(
                    "the tenant is already in production; going live is irreversible and done once",
                    field="mode",
                ) from exc
            raise _writing(exc) from exc
        return item.to_domain()  # the item as it is after the update (ReturnValues ALL_NEW)

    def update_tenant_settings(self, before: Tenant, after: Tenant) -> Tenant:
        """Write ``after``'s settings if the stored ones are still ``before``'s, else Conflict."""
        model = self._m.Tenant
        actions = [model.time_zone.set(after.time_zone), model.business_day_cutoff.set(after.business_day_cutoff)]
        actions.append(model.opening_hours.remove() if after.opening_hours is None
                       else model.opening_hours.set(OpeningHoursMap.of(after.opening_hours)))
        # Time zone and cut-off are never removed; an item without them holds the defaults.
        condition = (model.pk.exists()
                     & (model.time_zone.does_not_exist() | (model.time_zone == before.time_zone))
                     & (model.business_day_cutoff.does_not_exist()
                        | (model.business_day_cutoff == before.business_day_cutoff)))
        if before.opening_hours is None:
            condition &= model.opening_hours.does_not_exist()
        else:
            condition &= model.opening_hours == OpeningHoursMap.of(before.opening_hours)
        item = model(*tenant_key(before.tenant_id))
        try:
            item.update(actions=actions, condition=condition)
        except PynamoDBException as exc:
            if conditional_failed(exc):
                raise Conflict("the tenant's settings were changed meanwhile", field="settings") from exc
            raise _writing(exc) from exc
        return item.to_domain()

    # -- tokens
    def get_token(self, token_hash: str) -> OneTimeToken | None:
        item = self._get(self._m.Token, token_key(token_hash))
        return item.to_domain() if item else None

    def put_token(self, token: OneTimeToken) -> None:
        item = self._m.Token.of(token)
        self._put(item, self._m.Token.pk.does_not_exist())

    # -- memberships, invitations, grants
    def get_access(self, tenant_id: str, user_id: str) -> tuple[User | None, Membership | None]:
        found = self._batch([user_key(user_id), member_key(tenant_id, user_id)])
        user, member = (found.get(k) for k in (user_key(user_id), member_key(tenant_id, user_id)))
        return user.to_domain() if user else None, member.to_domain() if member else None

    def _batch(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Items of ``keys`` (at most 100) in one consistent BatchGetItem, each as the model its
        ``type`` names; absent ones left out."""
        with _reading():
            return {(i.pk, i.sk): i for i in self._m.Item.batch_get(keys, consistent_read=True)}

    def read_access(self, tenant_id: str, user_id: str, session_id: str = "") -> AccessRecord:
        """User, membership, tenant (and the session's sign-out marker) in one consistent
        BatchGetItem; the discriminator (``type``) gives each item its model."""
        keys = [user_key(user_id), member_key(tenant_id, user_id), tenant_key(tenant_id)]
        if session_id:
            keys.append(session_key(session_id))
        found = self._batch(keys)
        user, member, tenant = (found.get(k) for k in keys[:3])
        return AccessRecord(user.to_domain() if user else None, member.to_domain() if member else None,
                            tenant.to_domain() if tenant else None,
                            bool(session_id) and session_key(session_id) in found)

    def roster(self, tenant_id: str) -> TenantRoster:
        m = self._m
        with _reading():
            items = list(m.Item.query(f"TENANT#{tenant_id}", consistent_read=True))
        return TenantRoster(
            members=[i.to_domain() for i in items if isinstance(i, m.Membership)],
            invitations=[i.to_domain() for i in items if isinstance(i, m.Invitation)],
            grants=[i.to_domain() for i in items if isinstance(i, m.Grant)],
        )

    def memberships_of(self, user_id: str) -> list[Membership]:
        model = self._m.Membership
        with _reading():
            return [i.to_domain() for i in model.by_user.query(f"USER#{user_id}", model.gsi1sk.startswith("MEMBER#"))]

    def create_invitation(self, invitation: Invitation, token: OneTimeToken, grant: AuditorGrant | None) -> None:
        m = self._m
        tx = _Transaction()
        tx.check("tenant_id", m.Tenant, tenant_key(invitation.tenant_id), m.Tenant.pk.exists())
        self._new(tx, "invitation_id", m.Invitation.of(invitation))
        self._new(tx, "token", m.Token.of(token))
        if grant is not None:
            self._new(tx, "grant_id", m.Grant.of(grant))
        self._run(tx)

    def get_invitation(self, tenant_id: str, invitation_id: str) -> Invitation | None:
        item = self._get(self._m.Invitation, invitation_key(tenant_id, invitation_id))
        return item.to_domain() if item else None

    def accept_invitation(
        self,
        token: OneTimeToken,
        invitation: Invitation,
        membership: Membership,
        new_user: User | None,
        now: datetime,
    ) -> None:
        m = self._m
        tx = _Transaction()
        self._use_token(tx, token, now)
        inv = m.Invitation
        tx.update("invitation", inv(*invitation_key(invitation.tenant_id, invitation.invitation_id)),
                  [inv.status.set("accepted"), inv.accepted_at.set(now), inv.user_id.set(membership.user_id)],
                  inv.status == "pending")
        tx.put("membership", m.Membership.of(membership),
               m.Membership.pk.does_not_exist() | (m.Membership.status != "active"))
        if new_user is not None:
            tx += self._user_ops(new_user)
        if membership.counts_as_admin:
            self._admin_count(tx, membership.tenant_id, +1)
        if invitation.grant_id:
            g = m.Grant
            tx.update("grant", g(*grant_key(invitation.tenant_id, invitation.grant_id)),
                      [g.status.set("active"), g.user_id.set(membership.user_id)], g.status == "pending")
        self._run(tx)

    def _admin_count(self, tx: _Transaction, tenant_id: str, delta: int) -> None:
        model = self._m.Tenant
        condition = model.pk.exists()
        if delta < 0:
            condition &= model.admin_count > 1
        tx.update("last_admin", model(*tenant_key(tenant_id)), [model.admin_count.add(delta)], condition)

    def update_membership(self, old: Membership, new: Membership) -> None:
        """Role, status and display name of ``new``, if the stored ones are still ``old``'s. An
        empty display name is no attribute (as in items written before display names existed)."""
        model = self._m.Membership
        actions = [model.role.set(new.role), model.status.set(new.status), model.updated_at.set(datetime.now(UTC)),
                   model.display_name.set(new.display_name) if new.display_name else model.display_name.remove()]
        condition = (model.role == old.role) & (model.status == old.status)
        condition &= (model.display_name == old.display_name) if old.display_name else \
            model.display_name.does_not_exist()
        tx = _Transaction()
        tx.update("membership", model(*member_key(old.tenant_id, old.user_id)), actions, condition)
        delta = int(new.counts_as_admin) - int(old.counts_as_admin)
        if delta:
            self._admin_count(tx, old.tenant_id, delta)
        self._run(tx)

    def get_grant(self, tenant_id: str, grant_id: str) -> AuditorGrant | None:
        item = self._get(self._m.Grant, grant_key(tenant_id, grant_id))
        return item.to_domain() if item else None

    def revoke_grant(self, grant: AuditorGrant, now: datetime) -> None:
        g, mm = self._m.Grant, self._m.Membership
        tx = _Transaction()
        tx.update("grant", g(*grant_key(grant.tenant_id, grant.grant_id)),
                  [g.status.set("revoked"), g.revoked_at.set(now)], g.pk.exists() & (g.status != "revoked"))
        if grant.user_id:
            tx.update("membership", mm(*member_key(grant.tenant_id, grant.user_id)),
                      [mm.status.set("revoked"), mm.updated_at.set(now)], mm.grant_id == grant.grant_id)
        self._run(tx)

    # -- throttle and sessions
    def get_throttle(self, key: str) -> ThrottleState:
        item = self._get(self._m.Throttle, throttle_key(key))
        if not item:
            return ThrottleState()
        return ThrottleState(int(item.failures or 0), item.last_failure_at, item.locked_until)

    def save_throttle(self, key: str, state: ThrottleState, expires: datetime | None) -> None:
        self._put(self._m.Throttle(*throttle_key(key), failures=state.failures,
                                   last_failure_at=state.last_failure_at, locked_until=state.locked_until,
                                   expires_at=expires))

    def clear_throttle(self, key: str) -> None:
        try:
            self._m.Throttle(*throttle_key(key)).delete()
        except PynamoDBException as exc:
            raise _writing(exc) from exc

    def revoke_session(self, session_id: str, user_id: str, until: datetime) -> None:
        self._put(self._m.Session(*session_key(session_id), user_id=user_id, expires_at=until))

    def session_revoked(self, session_id: str) -> bool:
        return self._get(self._m.Session, session_key(session_id)) is not None
