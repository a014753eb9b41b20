"""Display names: where they come from (sign-up, invitation, acceptance, an admin's change), that
the access check hands the membership's name to the ``Caller`` whatever the token carried, and
that the ledger seals exactly that name."""

from __future__ import annotations

import pytest

from chalicelib.domain.accounts import Membership, User, parse_display_name
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.identity import Caller, Principal
from chalicelib.domain.permissions import Permission, Role
from chalicelib.services.accounts import SignUp
from chalicelib.services.ledger import SYSTEM, _actor
from tests.unit.accounts_world import PASSWORD, world

TENANT = "t" + "a" * 20


@pytest.fixture
def w():
    return world()


def owner_caller(w, tid: str) -> Caller:
    return w.caller(tid, "owner@example.com")


def token_principal(w, email: str, *, id_token: bool) -> Principal:
    """What the authorizer makes of an id token (with the email claim) or an access token (none)."""
    return Principal(w.store.user_id_for_email(email), email if id_token else "")


# ---- the rule for a name ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Alice Martin", "Alice Martin"),
        ("  Alice \t Martin\n", "Alice Martin"),
        ("Zoë Ñúñez-O'Brien", "Zoë Ñúñez-O'Brien"),
    ],
)
def test_a_display_name_is_trimmed_and_its_inner_white_space_collapsed(given, kept):
    assert parse_display_name(given) == kept


@pytest.mark.parametrize("bad", ["", "   ", "x" * 101, "Alice\x00", "Ali\u200bce", "Alice\u202eecilA", 42, None])
def test_a_bad_display_name_is_refused_naming_the_field(bad):
    with pytest.raises(ValidationFailed) as refused:
        parse_display_name(bad, "invitation.display_name")
    assert refused.value.field == "invitation.display_name"


def test_a_membership_without_a_display_name_is_named_by_its_email():
    member = Membership(TENANT, "u1", "alice@example.com", Role.SELLER)
    assert member.name == "alice@example.com"
    assert Membership(TENANT, "u1", "alice@example.com", Role.SELLER, display_name="Alice").name == "Alice"


# ---- the access check -------------------------------------------------------------------------
@pytest.mark.parametrize("id_token", [True, False])
def test_the_caller_gets_the_membership_display_name_whatever_the_token(w, id_token):
    tid = w.signup(display_name="Marie Dupont").tenant.tenant_id
    caller = w.access.authorize(token_principal(w, "owner@example.com", id_token=id_token), tid,
                                Permission.SALE_RECORD)
    assert caller.display_name == caller.name == "Marie Dupont"
    assert _actor(caller).as_dict() == {"user_id": caller.user_id, "name": "Marie Dupont"}


@pytest.mark.parametrize("id_token", [True, False])
def test_a_member_without_a_display_name_is_sealed_with_the_stored_email_not_the_tokens(w, id_token):
    """Records older than display names (and members who gave none) fall back to the email the
    store holds: the same with either token, and never the user id."""
    store = w.store
    store.users["u-old"] = User("u-old", "old@example.com", True)
    store.members[(TENANT, "u-old")] = Membership(TENANT, "u-old", "old@example.com", Role.SELLER)
    principal = Principal("u-old", "stale-claim@example.com" if id_token else "")
    caller = w.access.authorize(principal, TENANT, Permission.SALE_RECORD)
    assert _actor(caller).as_dict() == {"user_id": "u-old", "name": "old@example.com"}


def test_the_scheduled_closure_is_still_sealed_as_the_system():
    assert _actor(SYSTEM).as_dict() == {"user_id": "system", "name": "scheduled closure"}


def test_a_caller_built_by_hand_falls_back_to_the_principal_email_then_its_id():
    assert Caller(Principal("u1", "a@example.com"), TENANT, Role.ADMIN).name == "a@example.com"
    assert Caller(Principal("u1", ""), TENANT, Role.ADMIN).name == "u1"
    assert Caller(Principal("u1", "a@example.com"), TENANT, Role.ADMIN, "Alice").name == "Alice"


# ---- where a name comes from ------------------------------------------------------------------
def test_sign_up_names_the_account_and_the_admin_membership(w):
    result = w.signup(display_name=" Marie  Dupont ")
    user, member = w.store.get_access(result.tenant.tenant_id, result.user.user_id)
    assert (user.display_name, member.display_name) == ("Marie Dupont", "Marie Dupont")
    assert w.journal.events[0]["details"]["display_name"] == "Marie Dupont"


def test_a_bad_sign_up_display_name_writes_nothing(w):
    before = w.store.count()
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.signup(SignUp("o@example.com", PASSWORD, "Co", "BE", "0403170701", "BE0403170701",
                                 "Rue 1", "1000", "Bruxelles", display_name="\u202e"))
    assert refused.value.field == "display_name"
    assert w.store.count() == before and w.identity.users == {}


def test_the_invitation_name_is_the_default_and_the_invitee_may_choose_another(w):
    tid = w.signup().tenant.tenant_id
    admin = owner_caller(w, tid)
    result = w.accounts.invite(admin, "alice@example.com", "seller", "A. Martin")
    assert result.invitation.display_name == "A. Martin"
    accepted = w.accounts.accept_invitation(w.mailer.token_for("alice@example.com"), PASSWORD)
    assert accepted.membership.name == "A. Martin"
    w.accounts.invite(admin, "bob@example.com", "seller", "B. Durand")
    chosen = w.accounts.accept_invitation(w.mailer.token_for("bob@example.com"), PASSWORD, "Bob Durand")
    assert chosen.membership.name == "Bob Durand"
    assert w.store.get_user(chosen.membership.user_id).display_name == "Bob Durand"  # the new account's profile
    w.accounts.invite(admin, "carol@example.com", "seller")
    plain = w.accounts.accept_invitation(w.mailer.token_for("carol@example.com"), PASSWORD)
    assert (plain.membership.display_name, plain.membership.name) == ("", "carol@example.com")


def test_an_existing_account_joins_with_its_profile_name_unless_one_is_given(w):
    a = w.signup().tenant.tenant_id
    b = w.signup(email="other@example.com", number="0202239951").tenant.tenant_id
    c = w.signup(email="third@example.com", number="0417497106").tenant.tenant_id
    w.accounts.invite(owner_caller(w, a), "acc@firm.example", "accountant", "Cabinet Lemaire")
    w.accounts.accept_invitation(w.mailer.token_for("acc@firm.example"), PASSWORD)
    w.accounts.invite(w.caller(b, "other@example.com"), "acc@firm.example", "accountant")
    assert w.accounts.accept_invitation(w.mailer.token_for("acc@firm.example"), None).membership.name == (
        "Cabinet Lemaire")
    w.accounts.invite(w.caller(c, "third@example.com"), "acc@firm.example", "accountant", "J. Lemaire")
    assert w.accounts.accept_invitation(w.mailer.token_for("acc@firm.example"), None).membership.name == (
        "J. Lemaire")


def test_a_bad_name_on_an_invitation_or_an_acceptance_writes_nothing(w):
    tid = w.signup().tenant.tenant_id
    admin = owner_caller(w, tid)
    before = w.store.count()
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.invite(admin, "alice@example.com", "seller", " ")
    assert refused.value.field == "display_name" and w.store.count() == before
    w.accounts.invite(admin, "alice@example.com", "seller")
    before = w.store.count()
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.accept_invitation(w.mailer.token_for("alice@example.com"), PASSWORD, "x" * 101)
    assert refused.value.field == "display_name" and w.store.count() == before


# ---- an admin's change ------------------------------------------------------------------------
def test_an_admin_renames_a_member_the_next_access_check_sees_it_and_it_is_journaled(w):
    tid = w.signup().tenant.tenant_id
    admin = owner_caller(w, tid)
    seller = w.join(tid, "owner@example.com", "alice@example.com", "seller")
    updated = w.accounts.update_member(admin, seller.user_id, None, None, "Alice Martin")
    assert (updated.name, updated.role, updated.status) == ("Alice Martin", Role.SELLER, "active")
    again = w.access.authorize(Principal(seller.user_id, ""), tid, Permission.SALE_RECORD)
    assert again.display_name == "Alice Martin"
    event = w.journal.events[-1]
    assert (event["kind"], event["actor"], event["details"]) == ("config_changed", admin.user_id, {
        "user_id": seller.user_id, "changed": ["display_name"],
        "before": {"display_name": "alice@example.com"}, "after": {"display_name": "Alice Martin"}})
    before = (w.store.count(), len(w.journal.events))
    w.accounts.update_member(admin, seller.user_id, None, None, " Alice   Martin ")  # the same name: no change
    assert (w.store.count(), len(w.journal.events)) == before


def test_a_rename_with_a_role_change_is_one_change_and_the_last_admin_rule_still_holds(w):
    tid = w.signup().tenant.tenant_id
    admin = owner_caller(w, tid)
    with pytest.raises(Conflict) as refused:
        w.accounts.update_member(admin, admin.user_id, "seller", None, "Marie")
    assert refused.value.field == "role"
    assert w.store.get_access(tid, admin.user_id)[1].display_name == ""  # nothing written
    seller = w.join(tid, "owner@example.com", "alice@example.com", "seller")
    w.accounts.update_member(admin, seller.user_id, "manager", None, "Alice")
    member = w.store.get_access(tid, seller.user_id)[1]
    assert (member.role, member.name) == (Role.MANAGER, "Alice")
    assert w.journal.kinds(tid)[-2:] == ["role_changed", "config_changed"]


def test_an_auditor_is_not_renamed_through_members(w):
    tid = w.signup().tenant.tenant_id
    auditor = w.join(tid, "owner@example.com", "tax@gov.example", "auditor")
    with pytest.raises(Conflict) as refused:
        w.accounts.update_member(owner_caller(w, tid), auditor.user_id, None, None, "Inspecteur")
    assert refused.value.field == "display_name"
