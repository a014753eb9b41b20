"""Models of the accounts table (item layout: docs/decisions/0004-accounts-table.md).

Attributes keep the names and types the hand-written converters used: times are RFC 3339 UTC
strings, ``expires_at`` is the TTL (epoch seconds, N), ``admin_count`` a number, the address and
the opening hours maps; an empty display name or note is no attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, time
from functools import cache
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from chalicelib.adapters.models.base import (
    DomainItem,
    DomainMap,
    Endpoint,
    Gsi1,
    UtcTimeAttribute,
    meta,
    one_client,
)
from chalicelib.domain.accounts import AuditorGrant, Invitation, Membership, OneTimeToken, User
from chalicelib.domain.permissions import Role
from chalicelib.domain.tenant import Address, OpeningHours, Tenant


def tenant_key(tenant_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}", "TENANT"


def member_key(tenant_id: str, user_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}", f"MEMBER#{user_id}"


def user_key(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "USER"


def email_key(email: str) -> tuple[str, str]:
    return f"EMAIL#{email}", "EMAIL"


def company_key(country: str, number: str) -> tuple[str, str]:
    return f"COMPANY#{country}#{number}", "COMPANY"


def token_key(token_hash: str) -> tuple[str, str]:
    return f"TOKEN#{token_hash}", "TOKEN"


def invitation_key(tenant_id: str, invitation_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}", f"INVITE#{invitation_id}"


def grant_key(tenant_id: str, grant_id: str) -> tuple[str, str]:
    return f"TENANT#{tenant_id}", f"GRANT#{grant_id}"


def throttle_key(key: str) -> tuple[str, str]:
    return f"THROTTLE#{key}", "SIGNIN"


def session_key(session_id: str) -> tuple[str, str]:
    return f"SESSION#{session_id}", "REVOKED"


class RoleAttribute(UnicodeAttribute):
    def serialize(self, value: Role) -> str:
        return str(value)

    def deserialize(self, value: str) -> Role:
        return Role(value)


class HhMmAttribute(UnicodeAttribute):
    """A time of day stored as ``HH:MM``."""

    def serialize(self, value: time) -> str:
        return value.strftime("%H:%M")

    def deserialize(self, value: str) -> time:
        return time.fromisoformat(value)


class EpochAttribute(NumberAttribute):
    """A datetime stored as epoch seconds (the TTL attribute ``expires_at``)."""

    def serialize(self, value: datetime) -> str:
        return super().serialize(int(value.timestamp()))

    def deserialize(self, value: str) -> int:
        return super().deserialize(value)


class AddressMap(DomainMap):
    domain = Address
    line1 = UnicodeAttribute(null=True)
    line2 = UnicodeAttribute(null=True)
    postal_code = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)

    def to_domain(self) -> Address:
        return Address(self.line1 or "", self.postal_code or "", self.city or "", self.country or "",
                       self.line2 or "")


class OpeningHoursMap(MapAttribute):
    """``{"mon": ["09:00-19:00"], ..., "sun": []}`` (absent: not configured)."""

    mon = ListAttribute(of=UnicodeAttribute, null=True)
    tue = ListAttribute(of=UnicodeAttribute, null=True)
    wed = ListAttribute(of=UnicodeAttribute, null=True)
    thu = ListAttribute(of=UnicodeAttribute, null=True)
    fri = ListAttribute(of=UnicodeAttribute, null=True)
    sat = ListAttribute(of=UnicodeAttribute, null=True)
    sun = ListAttribute(of=UnicodeAttribute, null=True)

    @classmethod
    def of(cls, hours: OpeningHours | None) -> OpeningHoursMap | None:
        return None if hours is None else cls(**{day: windows or [] for day, windows in hours.to_json().items()})

    def to_domain(self) -> OpeningHours:
        return OpeningHours.from_json({day: getattr(self, day) or [] for day in
                                       ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})


@dataclass(frozen=True)
class AccountsModels:
    """The model classes of one accounts table."""

    Item: type
    Tenant: type
    User: type
    Membership: type
    Invitation: type
    Grant: type
    Email: type
    Company: type
    Token: type
    Throttle: type
    Session: type


@cache
def accounts_models(table_name: str, endpoint: Endpoint) -> AccountsModels:
    """The models bound to ``table_name`` (once per table name and endpoint)."""
    bound = meta(table_name, endpoint)

    class Item(Model):
        Meta = bound
        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        item_type = DiscriminatorAttribute(attr_name="type")  # which model an item of a mixed read is

    class TenantItem(Item, discriminator="tenant"):
        tenant_id = UnicodeAttribute()
        company_name = UnicodeAttribute(null=True)
        country = UnicodeAttribute(null=True)
        company_number = UnicodeAttribute(null=True)
        vat_number = UnicodeAttribute(null=True)
        address = AddressMap(null=True)
        time_zone = UnicodeAttribute(null=True)
        business_day_cutoff = HhMmAttribute(null=True)
        mode = UnicodeAttribute(null=True)
        production_since = UtcTimeAttribute(null=True)
        created_at = UtcTimeAttribute(null=True)
        admin_count = NumberAttribute(null=True)
        opening_hours = OpeningHoursMap(null=True)

        @classmethod
        def of(cls, t: Tenant, admin_count: int) -> TenantItem:
            return cls(*tenant_key(t.tenant_id), tenant_id=t.tenant_id,
                       company_name=t.company_name, country=t.country, company_number=t.company_number,
                       vat_number=t.vat_number, address=AddressMap.of(t.address), time_zone=t.time_zone,
                       business_day_cutoff=t.business_day_cutoff, mode=t.mode, production_since=t.production_since,
                       created_at=t.created_at, admin_count=admin_count,
                       opening_hours=OpeningHoursMap.of(t.opening_hours))

        def to_domain(self) -> Tenant:
            extra: dict[str, Any] = {}
            if self.business_day_cutoff is not None:  # items without settings hold the defaults
                extra["business_day_cutoff"] = self.business_day_cutoff
            return Tenant(
                tenant_id=self.tenant_id, company_name=self.company_name or "", country=self.country or "",
                company_number=self.company_number or "", vat_number=self.vat_number or "",
                address=self.address.to_domain() if self.address else None, time_zone=self.time_zone or "",
                mode=self.mode or "test", production_since=self.production_since, created_at=self.created_at,
                # Items written before opening hours existed have none: unknown.
                opening_hours=self.opening_hours.to_domain() if self.opening_hours else None, **extra,
            )

    class UserItem(DomainItem, Item, discriminator="user"):
        domain = User
        user_id = UnicodeAttribute()
        email = UnicodeAttribute()
        email_verified = BooleanAttribute(null=True)
        operator = BooleanAttribute(null=True)
        created_at = UtcTimeAttribute(null=True)
        display_name = UnicodeAttribute(null=True)  # absent in older items: the email stands in
        verified_at = UtcTimeAttribute(null=True)

        @classmethod
        def of(cls, u: User) -> UserItem:
            return cls(*user_key(u.user_id), user_id=u.user_id, email=u.email,
                       email_verified=u.email_verified, operator=u.operator, created_at=u.created_at,
                       display_name=u.display_name or None)

    class MembershipItem(DomainItem, Item, discriminator="membership"):
        domain = Membership
        tenant_id = UnicodeAttribute()
        user_id = UnicodeAttribute()
        email = UnicodeAttribute()
        role = RoleAttribute()
        status = UnicodeAttribute()
        joined_at = UtcTimeAttribute(null=True)
        valid_until = UtcTimeAttribute(null=True)
        grant_id = UnicodeAttribute(null=True)
        display_name = UnicodeAttribute(null=True)
        updated_at = UtcTimeAttribute(null=True)
        gsi1pk = UnicodeAttribute()  # USER#<user_id>: the user's tenants
        gsi1sk = UnicodeAttribute()  # MEMBER#<tenant_id>
        by_user = Gsi1()

        @classmethod
        def of(cls, m: Membership) -> MembershipItem:
            return cls(*member_key(m.tenant_id, m.user_id), gsi1pk=f"USER#{m.user_id}",
                       gsi1sk=f"MEMBER#{m.tenant_id}", tenant_id=m.tenant_id, user_id=m.user_id, email=m.email,
                       role=m.role, status=m.status, joined_at=m.joined_at, valid_until=m.valid_until,
                       grant_id=m.grant_id, display_name=m.display_name or None)

    class InvitationItem(DomainItem, Item, discriminator="invitation"):
        domain = Invitation
        invitation_id = UnicodeAttribute()
        tenant_id = UnicodeAttribute()
        email = UnicodeAttribute()
        role = RoleAttribute()
        invited_by = UnicodeAttribute()
        created_at = UtcTimeAttribute()
        expires_at = UtcTimeAttribute(attr_name="expires")
        status = UnicodeAttribute()
        grant_id = UnicodeAttribute(null=True)
        display_name = UnicodeAttribute(null=True)
        accepted_at = UtcTimeAttribute(null=True)
        user_id = UnicodeAttribute(null=True)

        @classmethod
        def of(cls, i: Invitation) -> InvitationItem:
            return cls(*invitation_key(i.tenant_id, i.invitation_id),
                       **{**cls.attributes_of(i), "display_name": i.display_name or None})

    class GrantItem(DomainItem, Item, discriminator="auditor_grant"):
        domain = AuditorGrant
        grant_id = UnicodeAttribute()
        tenant_id = UnicodeAttribute()
        email = UnicodeAttribute()
        valid_until = UtcTimeAttribute()
        granted_by = UnicodeAttribute()
        created_at = UtcTimeAttribute()
        status = UnicodeAttribute()
        user_id = UnicodeAttribute(null=True)
        note = UnicodeAttribute(null=True)
        revoked_at = UtcTimeAttribute(null=True)

        @classmethod
        def of(cls, g: AuditorGrant) -> GrantItem:
            return cls(*grant_key(g.tenant_id, g.grant_id),
                       **{**cls.attributes_of(g), "note": g.note or None})

    class EmailItem(Item, discriminator="email"):
        """One account per address (the address lower-cased)."""

        user_id = UnicodeAttribute()

    class CompanyItem(Item, discriminator="company"):
        """One tenant per company number."""

        tenant_id = UnicodeAttribute()

    class TokenItem(Item, discriminator="token"):
        """A one-time token, by the SHA-256 of the secret mailed."""

        purpose = UnicodeAttribute()
        expires = UtcTimeAttribute()
        expires_at = EpochAttribute(null=True)  # TTL: one day past expiry
        user_id = UnicodeAttribute(null=True)
        tenant_id = UnicodeAttribute(null=True)
        invitation_id = UnicodeAttribute(null=True)
        used_at = UtcTimeAttribute(null=True)

        @classmethod
        def of(cls, t: OneTimeToken) -> TokenItem:
            from datetime import timedelta

            return cls(*token_key(t.token_hash), purpose=t.purpose, expires=t.expires_at,
                       expires_at=t.expires_at + timedelta(days=1), user_id=t.user_id, tenant_id=t.tenant_id,
                       invitation_id=t.invitation_id, used_at=t.used_at)

        def to_domain(self) -> OneTimeToken:
            return OneTimeToken(self.pk.removeprefix("TOKEN#"), self.purpose, self.expires, self.user_id,
                                self.tenant_id, self.invitation_id, self.used_at)

    class ThrottleItem(Item, discriminator="throttle"):
        failures = NumberAttribute(null=True)
        last_failure_at = UtcTimeAttribute(null=True)
        locked_until = UtcTimeAttribute(null=True)
        expires_at = EpochAttribute(null=True)

    class SessionItem(Item, discriminator="revoked_session"):
        """A signed-out session (its tokens are refused until ``expires_at``)."""

        user_id = UnicodeAttribute(null=True)
        expires_at = EpochAttribute(null=True)

    models = AccountsModels(Item, TenantItem, UserItem, MembershipItem, InvitationItem, GrantItem, EmailItem,
                          CompanyItem, TokenItem, ThrottleItem, SessionItem)
    one_client(*(getattr(models, f.name) for f in fields(models)))
    return models
