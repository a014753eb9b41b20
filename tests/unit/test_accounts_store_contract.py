"""The AccountsStore contract: the same tests for the in-memory store (here) and the DynamoDB
store (tests/functional/test_members_store_contract.py). A refused change writes nothing."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.adapters.accounts_memory import InMemoryAccountsStore
from chalicelib.domain.accounts import (
    AuditorGrant,
    Invitation,
    Membership,
    OneTimeToken,
    ThrottleState,
    User,
    new_id,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.permissions import Role
from chalicelib.domain.tenant import Address, Tenant
from chalicelib.ports.accounts import AccessRecord

NOW = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def be_number() -> str:
    first8 = "0" + f"{random.randrange(10**6, 10**7):07d}"
    return first8 + f"{97 - int(first8) % 97:02d}"


class Signup:
    def __init__(self, email: str | None = None, number: str | None = None) -> None:
        number = number or be_number()
        self.tenant = Tenant(
            new_id("t"),
            "Co",
            "BE",
            number,
            "BE" + number,
            Address("Rue 1", "1000", "Bruxelles", "BE", "boîte 2"),
            business_day_cutoff=time(5, 30),
            created_at=NOW,
        )
        self.user = User(str(uuid.uuid4()), email or f"{uuid.uuid4().hex[:10]}@example.com", False, False, NOW)
        self.admin = Membership(self.tenant.tenant_id, self.user.user_id, self.user.email, Role.ADMIN, "active", NOW)
        self.secret, self.token = OneTimeToken.issue(
            "verify_email", NOW, timedelta(hours=24), user_id=self.user.user_id
        )

    def create(self, store) -> Signup:
        store.create_signup(self.tenant, self.user, self.admin, self.token)
        return self


def invitation(tenant_id: str, role: Role = Role.SELLER, grant: AuditorGrant | None = None):
    inv = Invitation(
        new_id("i"),
        tenant_id,
        f"{uuid.uuid4().hex[:10]}@example.com",
        role,
        "admin-id",
        NOW,
        NOW + timedelta(days=7),
        grant_id=grant.grant_id if grant else None,
    )
    if grant is not None:
        grant = replace(grant, email=inv.email)
    _secret, token = OneTimeToken.issue(
        "invitation", NOW, timedelta(days=7), tenant_id=tenant_id, invitation_id=inv.invitation_id
    )
    return inv, token, grant


def accept(store, inv: Invitation, token: OneTimeToken, valid_until=None, grant_id=None):
    user = User(str(uuid.uuid4()), inv.email, True, False, NOW)
    member = Membership(inv.tenant_id, user.user_id, inv.email, inv.role, "active", NOW, valid_until, grant_id)
    store.accept_invitation(token, inv, member, user, NOW)
    return member


class AccountsStoreContract:
    @pytest.fixture
    def store(self):
        raise NotImplementedError

    def test_can_create_a_signup_and_read_every_record_back(self, store):
        s = Signup().create(store)
        assert store.get_tenant(s.tenant.tenant_id) == s.tenant
        assert store.get_user(s.user.user_id) == s.user
        assert store.user_id_for_email(s.user.email) == s.user.user_id
        assert store.tenant_for_company("BE", s.tenant.company_number) == s.tenant.tenant_id
        assert store.get_access(s.tenant.tenant_id, s.user.user_id) == (s.user, s.admin)
        assert store.memberships_of(s.user.user_id) == [s.admin]
        assert store.roster(s.tenant.tenant_id).members == [s.admin]
        assert store.get_token(s.token.token_hash) == s.token

    def test_a_signup_with_a_taken_email_is_refused_whole(self, store):
        first = Signup().create(store)
        second = Signup(email=first.user.email)
        with pytest.raises(Conflict) as refused:
            second.create(store)
        assert refused.value.field == "email"
        assert store.get_tenant(second.tenant.tenant_id) is None
        assert store.tenant_for_company("BE", second.tenant.company_number) is None
        assert store.get_user(second.user.user_id) is None and store.get_token(second.token.token_hash) is None

    def test_a_signup_with_a_taken_company_number_is_refused_whole(self, store):
        first = Signup().create(store)
        second = Signup(number=first.tenant.company_number)
        with pytest.raises(Conflict) as refused:
            second.create(store)
        assert refused.value.field == "company_number"
        assert store.user_id_for_email(second.user.email) is None and store.get_user(second.user.user_id) is None

    def test_can_use_a_verification_token_once_before_it_expires(self, store):
        s = Signup().create(store)
        with pytest.raises(Conflict):
            store.verify_email(s.token, NOW + timedelta(hours=24))
        assert store.get_user(s.user.user_id).email_verified is False
        store.verify_email(s.token, NOW + timedelta(hours=1))
        assert store.get_user(s.user.user_id).email_verified is True
        assert store.get_token(s.token.token_hash).used_at == NOW + timedelta(hours=1)
        with pytest.raises(Conflict):
            store.verify_email(s.token, NOW + timedelta(hours=2))

    def test_can_go_live_once(self, store):
        s = Signup().create(store)
        live = store.go_live(s.tenant.tenant_id, NOW)
        assert (live.mode, live.production_since) == ("production", NOW)
        with pytest.raises(Conflict):
            store.go_live(s.tenant.tenant_id, NOW)

    def test_can_invite_and_accept_once(self, store):
        s = Signup().create(store)
        inv, token, _ = invitation(s.tenant.tenant_id)
        store.create_invitation(inv, token, None)
        assert store.get_invitation(s.tenant.tenant_id, inv.invitation_id) == inv
        assert store.roster(s.tenant.tenant_id).invitations == [inv]
        member = accept(store, inv, token)
        assert store.get_access(s.tenant.tenant_id, member.user_id)[1] == member
        assert store.get_invitation(s.tenant.tenant_id, inv.invitation_id).status == "accepted"
        with pytest.raises(Conflict):
            accept(store, inv, token)

    def test_an_invitation_to_a_missing_tenant_is_refused(self, store):
        inv, token, _ = invitation(new_id("t"))
        with pytest.raises(Conflict):
            store.create_invitation(inv, token, None)
        assert store.get_token(token.token_hash) is None

    def test_the_last_active_admin_stays(self, store):
        s = Signup().create(store)
        with pytest.raises(Conflict) as refused:
            store.update_membership(s.admin, replace(s.admin, role=Role.SELLER))
        assert refused.value.field == "last_admin"
        inv, token, _ = invitation(s.tenant.tenant_id, Role.ADMIN)
        store.create_invitation(inv, token, None)
        second = accept(store, inv, token)
        store.update_membership(s.admin, replace(s.admin, status="disabled"))
        with pytest.raises(Conflict):
            store.update_membership(second, replace(second, role=Role.ACCOUNTANT))
        assert store.get_access(s.tenant.tenant_id, second.user_id)[1].role == Role.ADMIN
        store.update_membership(replace(s.admin, status="disabled"), s.admin)
        store.update_membership(second, replace(second, role=Role.ACCOUNTANT))

    def test_a_stale_membership_change_is_refused(self, store):
        s = Signup().create(store)
        inv, token, _ = invitation(s.tenant.tenant_id)
        store.create_invitation(inv, token, None)
        seller = accept(store, inv, token)
        store.update_membership(seller, replace(seller, role=Role.MANAGER))
        with pytest.raises(Conflict) as refused:
            store.update_membership(seller, replace(seller, status="disabled"))
        assert refused.value.field == "membership"

    def test_can_grant_accept_and_revoke_auditor_access(self, store):
        s = Signup().create(store)
        grant = AuditorGrant(
            new_id("g"), s.tenant.tenant_id, "", NOW + timedelta(days=30), s.user.user_id, NOW, note="case 1"
        )
        inv, token, grant = invitation(s.tenant.tenant_id, Role.AUDITOR, grant)
        store.create_invitation(inv, token, grant)
        assert store.get_grant(s.tenant.tenant_id, grant.grant_id) == grant
        member = accept(store, inv, token, grant.valid_until, grant.grant_id)
        active = store.get_grant(s.tenant.tenant_id, grant.grant_id)
        assert (active.status, active.user_id) == ("active", member.user_id)
        store.revoke_grant(active, NOW)
        assert store.get_grant(s.tenant.tenant_id, grant.grant_id).status == "revoked"
        assert store.get_access(s.tenant.tenant_id, member.user_id)[1].status == "revoked"
        with pytest.raises(Conflict):
            store.revoke_grant(active, NOW)
        assert [g.grant_id for g in store.roster(s.tenant.tenant_id).grants] == [grant.grant_id]

    def test_display_names_round_trip_on_users_memberships_and_invitations(self, store):
        s = Signup()
        s.user = replace(s.user, display_name="Marie Dupont")
        s.admin = replace(s.admin, display_name="Marie Dupont")
        s.create(store)
        assert store.get_user(s.user.user_id).display_name == "Marie Dupont"
        assert store.get_access(s.tenant.tenant_id, s.user.user_id) == (s.user, s.admin)
        assert store.roster(s.tenant.tenant_id).members[0].name == "Marie Dupont"
        inv, token, _ = invitation(s.tenant.tenant_id)
        inv = replace(inv, display_name="Alice Martin")
        store.create_invitation(inv, token, None)
        assert store.get_invitation(s.tenant.tenant_id, inv.invitation_id).display_name == "Alice Martin"
        user = User(str(uuid.uuid4()), inv.email, True, False, NOW, display_name="Alice")
        member = Membership(inv.tenant_id, user.user_id, inv.email, inv.role, "active", NOW, display_name="Alice M.")
        store.accept_invitation(token, inv, member, user, NOW)
        assert store.get_access(s.tenant.tenant_id, user.user_id) == (user, member)
        assert store.memberships_of(user.user_id) == [member]

    def test_a_record_without_a_display_name_reads_back_named_by_its_email(self, store):
        s = Signup().create(store)
        user, admin = store.get_access(s.tenant.tenant_id, s.user.user_id)
        assert (user.display_name, admin.display_name, admin.name) == ("", "", s.user.email)
        inv, token, _ = invitation(s.tenant.tenant_id)
        store.create_invitation(inv, token, None)
        assert store.get_invitation(s.tenant.tenant_id, inv.invitation_id).display_name == ""

    def test_can_rename_a_member_and_clear_the_name_again(self, store):
        s = Signup().create(store)
        named = replace(s.admin, display_name="Marie Dupont")
        store.update_membership(s.admin, named)
        assert store.get_access(s.tenant.tenant_id, s.user.user_id)[1] == named
        assert store.roster(s.tenant.tenant_id).members == [named]
        both = replace(named, role=Role.ADMIN, display_name="Marie D.")
        store.update_membership(named, both)
        store.update_membership(both, s.admin)
        assert store.get_access(s.tenant.tenant_id, s.user.user_id)[1] == s.admin
        assert store.get_user(s.user.user_id).display_name == ""  # the profile name is not the membership's

    def test_a_stale_rename_is_refused(self, store):
        s = Signup().create(store)
        store.update_membership(s.admin, replace(s.admin, display_name="First"))
        with pytest.raises(Conflict) as refused:
            store.update_membership(s.admin, replace(s.admin, display_name="Second"))
        assert refused.value.field == "membership"
        with pytest.raises(Conflict):
            store.update_membership(replace(s.admin, display_name="Other"), replace(s.admin, display_name="Third"))
        assert store.get_access(s.tenant.tenant_id, s.user.user_id)[1].display_name == "First"

    def test_can_keep_and_forget_a_throttle_state(self, store):
        key = uuid.uuid4().hex
        assert store.get_throttle(key) == ThrottleState()
        state = ThrottleState(3, NOW, NOW + timedelta(minutes=15))
        store.save_throttle(key, state, NOW + timedelta(minutes=15))
        assert store.get_throttle(key) == state
        store.clear_throttle(key)
        assert store.get_throttle(key) == ThrottleState()

    def test_can_remember_a_signed_out_session(self, store):
        sid = uuid.uuid4().hex
        assert not store.session_revoked(sid)
        store.revoke_session(sid, "user", NOW + timedelta(days=30))
        assert store.session_revoked(sid)

    def test_reads_user_membership_tenant_and_session_of_an_access_check_together(self, store):
        s = Signup().create(store)
        tid, uid = s.tenant.tenant_id, s.user.user_id
        sid = uuid.uuid4().hex
        assert store.read_access(tid, uid, sid) == AccessRecord(s.user, s.admin, s.tenant, False)
        assert store.read_access(tid, uid) == AccessRecord(s.user, s.admin, s.tenant, False)
        store.revoke_session(sid, uid, NOW + timedelta(days=30))
        assert store.read_access(tid, uid, sid).session_revoked
        assert not store.read_access(tid, uid, uuid.uuid4().hex).session_revoked
        other = Signup().create(store)
        assert store.read_access(other.tenant.tenant_id, uid) == AccessRecord(s.user, None, other.tenant, False)
        assert store.read_access(tid, "u-nobody") == AccessRecord(None, None, s.tenant, False)


class TestInMemoryAccountsStore(AccountsStoreContract):
    @pytest.fixture
    def store(self):
        return InMemoryAccountsStore()
