"""AccountsService and TenantService on in-memory adapters: every rule, and nothing written on refusal."""

from datetime import timedelta

import pytest

from chalicelib.domain.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from chalicelib.domain.permissions import Role
from chalicelib.services.accounts import SignUp
from tests.unit.accounts_world import PASSWORD, world


@pytest.fixture
def w():
    return world()


def signup_cmd(**kw):
    base = dict(
        email="owner@example.com",
        password=PASSWORD,
        company_name="Boulangerie",
        country="BE",
        company_number="0403.170.701",
        vat_number="BE 0403 170 701",
        address_line1="Rue de la Loi 16",
        address_postal_code="1000",
        address_city="Bruxelles",
    )
    base.update(kw)
    return SignUp(**base)


# ---- sign-up --------------------------------------------------------------------------------
def test_sign_up_creates_a_test_mode_tenant_whose_admin_is_the_new_user(w):
    result = w.accounts.signup(signup_cmd(email="Owner@Example.com"))
    tenant = w.store.get_tenant(result.tenant.tenant_id)
    assert (tenant.company_number, tenant.vat_number, tenant.mode) == ("0403170701", "BE0403170701", "test")
    assert tenant.time_zone == "Europe/Brussels"
    user, member = w.store.get_access(tenant.tenant_id, result.user.user_id)
    assert (user.email, user.email_verified, member.role) == ("owner@example.com", False, Role.ADMIN)
    assert w.mailer.token_for("owner@example.com") == result.verification_token
    assert w.journal.events[-1]["kind"] == "signup" and w.journal.events[-1]["training"] is True


def test_a_french_company_signs_up_with_its_siren_and_vat_key(w):
    result = w.signup(country="FR", number="732 829 320", vat_number="FR 44 732829320")
    assert (result.tenant.company_number, result.tenant.vat_number) == ("732829320", "FR44732829320")
    assert result.tenant.time_zone == "Europe/Paris"


BAD_SIGNUPS = [
    ({"email": "not-an-email"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "nouppercase123"}, "password"),
    ({"company_name": "   "}, "company_name"),
    ({"country": "NL"}, "country"),
    ({"company_number": "0403170702"}, "company_number"),
    ({"company_number": "2403170701"}, "company_number"),
    ({"company_number": "12345"}, "company_number"),
    ({"vat_number": "BE0403170702"}, "vat_number"),
    ({"vat_number": "NL0403170701"}, "vat_number"),
    ({"vat_number": "BE0202239951"}, "vat_number"),  # valid, but another company's
    (
        {"country": "FR", "company_number": "732829321", "vat_number": "FR44732829320", "address_postal_code": "75008"},
        "company_number",
    ),
    (
        {"country": "FR", "company_number": "732829320", "vat_number": "FR45732829320", "address_postal_code": "75008"},
        "vat_number",
    ),
    (
        {"country": "FR", "company_number": "732829320", "vat_number": "FRXY732829320", "address_postal_code": "75008"},
        "vat_number",
    ),
    ({"address_postal_code": "75008"}, "address.postal_code"),
    (
        {"country": "FR", "company_number": "732829320", "vat_number": "FR44732829320", "address_postal_code": "1000"},
        "address.postal_code",
    ),
    ({"address_line1": " "}, "address.line1"),
    ({"address_city": ""}, "address.city"),
]


@pytest.mark.parametrize(("change", "field"), BAD_SIGNUPS)
def test_each_bad_sign_up_input_is_refused_naming_the_field_and_nothing_is_written(w, change, field):
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.signup(signup_cmd(**change))
    assert refused.value.field == field
    assert w.store.count() == 0 and w.identity.users == {} and w.mailer.sent == [] and w.journal.events == []


def test_a_second_sign_up_with_the_same_email_is_a_409_on_email(w):
    w.signup()
    before = w.store.count()
    with pytest.raises(Conflict) as refused:
        w.accounts.signup(signup_cmd(email="OWNER@example.com", company_number="0202239951", vat_number="BE0202239951"))
    assert refused.value.field == "email"
    assert w.store.count() == before and len(w.identity.users) == 1


def test_a_second_sign_up_with_the_same_company_number_is_a_409_on_company_number(w):
    w.signup()
    before = w.store.count()
    with pytest.raises(Conflict) as refused:
        w.accounts.signup(signup_cmd(email="other@example.com"))
    assert refused.value.field == "company_number"
    assert w.store.count() == before and len(w.identity.users) == 1


def test_when_the_table_write_fails_the_pool_user_is_deleted_again(w):
    def broken(*args, **kw):
        raise Unavailable("table down")

    w.store.create_signup = broken
    with pytest.raises(Unavailable):
        w.accounts.signup(signup_cmd())
    assert w.identity.users == {} and w.store.count() == 0


def test_a_race_lost_in_the_transaction_is_a_409_and_the_pool_user_is_deleted(w):
    w.signup()
    w.store.emails.clear()  # the fast pre-check misses; the transaction's condition catches it
    w.store.emails["other@example.com"] = "x"
    with pytest.raises(Conflict) as refused:
        w.accounts.signup(signup_cmd(email="other@example.com", company_number="0202239951", vat_number="BE0202239951"))
    assert refused.value.field == "email"
    assert [u["email"] for u in w.identity.users.values()] == ["owner@example.com"]


def test_an_orphan_pool_user_is_reclaimed_by_a_later_sign_up_once_old_enough(w):
    w.identity.sign_up("owner@example.com", "Whatever-123x")  # debris: a pool user without records
    with pytest.raises(Conflict):
        w.accounts.signup(signup_cmd())
    w.clock.advance(minutes=11)
    result = w.accounts.signup(signup_cmd())
    assert w.identity.users[result.user.user_id]["password"] == PASSWORD


def test_a_failed_mail_does_not_undo_the_sign_up(w):
    w.mailer.fail = True
    result = w.accounts.signup(signup_cmd())
    assert result.mail_sent is False and w.store.get_tenant(result.tenant.tenant_id)


# ---- email verification ---------------------------------------------------------------------
def test_the_verification_token_confirms_the_pool_user_once(w):
    result = w.signup(verify=False)
    user = w.accounts.verify_email(result.verification_token)
    assert user.email_verified and w.identity.users[user.user_id]["confirmed"]
    assert "email_verified" in w.journal.kinds(result.tenant.tenant_id)
    with pytest.raises(ValidationFailed, match="already been used") as again:
        w.accounts.verify_email(result.verification_token)
    assert again.value.field == "token"


def test_an_expired_verification_token_is_refused_and_a_new_one_can_be_asked(w):
    result = w.signup(verify=False)
    w.clock.advance(hours=24)
    with pytest.raises(ValidationFailed, match="expired") as refused:
        w.accounts.verify_email(result.verification_token)
    assert refused.value.field == "token"
    fresh = w.accounts.resend_verification("owner@example.com")
    assert w.accounts.verify_email(fresh).email_verified


@pytest.mark.parametrize("token", ["", "made-up"])
def test_an_unknown_verification_token_is_refused(w, token):
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.verify_email(token)
    assert refused.value.field == "token"


def test_an_invitation_token_does_not_verify_an_email(w):
    result = w.signup()
    w.accounts.invite(w.caller(result.tenant.tenant_id, "owner@example.com"), "s@example.com", "seller")
    with pytest.raises(ValidationFailed):
        w.accounts.verify_email(w.mailer.token_for("s@example.com"))


def test_resending_says_nothing_for_unknown_or_verified_addresses(w):
    w.signup()
    assert w.accounts.resend_verification("owner@example.com") is None
    assert w.accounts.resend_verification("nobody@example.com") is None


# ---- invitations and members ----------------------------------------------------------------
def test_an_invited_seller_joins_with_a_new_confirmed_account(w):
    tid = w.signup().tenant.tenant_id
    w.accounts.invite(w.caller(tid, "owner@example.com"), "Seller@Example.com", "seller")
    accepted = w.accounts.accept_invitation(w.mailer.token_for("seller@example.com"), PASSWORD)
    assert accepted.account_created and accepted.membership.role == Role.SELLER
    assert w.identity.users[accepted.membership.user_id]["confirmed"]
    assert w.journal.kinds(tid)[-2:] == ["invitation_sent", "invitation_accepted"]


def test_one_person_can_be_a_member_of_many_tenants(w):
    a = w.signup().tenant.tenant_id
    b = w.signup(email="other@example.com", number="0202239951").tenant.tenant_id
    w.join(a, "owner@example.com", "accountant@firm.example", "accountant")
    w.accounts.invite(w.caller(b, "other@example.com"), "accountant@firm.example", "accountant")
    accepted = w.accounts.accept_invitation(w.mailer.token_for("accountant@firm.example"), None)
    assert not accepted.account_created
    assert {m.tenant_id for m in w.store.memberships_of(accepted.membership.user_id)} == {a, b}


def test_a_new_account_needs_a_password_that_meets_the_policy(w):
    tid = w.signup().tenant.tenant_id
    w.accounts.invite(w.caller(tid, "owner@example.com"), "s@example.com", "seller")
    token = w.mailer.token_for("s@example.com")
    before = w.store.count()
    for password, field in ((None, "password"), ("weak", "password")):
        with pytest.raises(ValidationFailed) as refused:
            w.accounts.accept_invitation(token, password)
        assert refused.value.field == field
    assert w.store.count() == before and len(w.identity.users) == 1


def test_an_invitation_is_single_use_and_expires(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    w.accounts.invite(admin, "s@example.com", "seller")
    token = w.mailer.token_for("s@example.com")
    w.accounts.accept_invitation(token, PASSWORD)
    with pytest.raises(ValidationFailed):
        w.accounts.accept_invitation(token, PASSWORD)
    w.accounts.invite(admin, "late@example.com", "manager")
    w.clock.advance(days=7)
    with pytest.raises(ValidationFailed, match="expired"):
        w.accounts.accept_invitation(w.mailer.token_for("late@example.com"), PASSWORD)


def test_inviting_an_active_member_again_is_a_409(w):
    tid = w.signup().tenant.tenant_id
    with pytest.raises(Conflict) as refused:
        w.accounts.invite(w.caller(tid, "owner@example.com"), "owner@example.com", "seller")
    assert refused.value.field == "email"


def test_auditors_are_not_invited_through_plain_invitations(w):
    tid = w.signup().tenant.tenant_id
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.invite(w.caller(tid, "owner@example.com"), "a@example.com", "auditor")
    assert refused.value.field == "role"


def test_a_platform_operator_can_never_join_a_tenant(w):
    tid = w.signup().tenant.tenant_id
    w.accounts.create_operator("op@scelle.example", PASSWORD)
    with pytest.raises(ValidationFailed):
        w.accounts.invite(w.caller(tid, "owner@example.com"), "op@scelle.example", "seller")
    w.accounts.invite(w.caller(tid, "owner@example.com"), "op2@scelle.example", "seller")
    w.accounts.create_operator("op2@scelle.example", PASSWORD)  # became an operator after the invitation
    with pytest.raises(Forbidden):
        w.accounts.accept_invitation(w.mailer.token_for("op2@scelle.example"), None)


def test_the_last_admin_cannot_be_demoted_or_disabled(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    before = w.store.count()
    with pytest.raises(Conflict) as demoted:
        w.accounts.update_member(admin, admin.user_id, "seller", None)
    assert demoted.value.field == "role"
    with pytest.raises(Conflict) as disabled:
        w.accounts.update_member(admin, admin.user_id, None, True)
    assert disabled.value.field == "disabled"
    assert w.store.get_access(tid, admin.user_id)[1].role == Role.ADMIN and w.store.count() == before


def test_with_a_second_admin_the_first_can_step_down(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    second = w.join(tid, "owner@example.com", "second@example.com", "admin")
    w.accounts.update_member(admin, admin.user_id, "accountant", None)
    with pytest.raises(Conflict):
        w.accounts.update_member(second, second.user_id, None, True)
    assert w.journal.kinds(tid)[-1] == "role_changed"


def test_a_disabled_member_loses_access_and_regains_it_when_enabled(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    seller = w.join(tid, "owner@example.com", "s@example.com", "seller")
    w.accounts.update_member(admin, seller.user_id, None, True)
    with pytest.raises(NotFound):
        w.access.authorize(seller.principal, tid, "tenant.read")
    w.accounts.update_member(admin, seller.user_id, "manager", False)
    assert w.access.authorize(seller.principal, tid, "tenant.read").role == Role.MANAGER
    assert w.journal.kinds(tid)[-3:] == ["member_disabled", "role_changed", "member_enabled"]


def test_changing_an_unknown_member_is_a_404_and_an_auditor_is_changed_through_its_grant(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    with pytest.raises(NotFound):
        w.accounts.update_member(admin, "nobody", "seller", None)
    auditor = w.join(tid, "owner@example.com", "tax@gov.example", "auditor")
    with pytest.raises(Conflict):
        w.accounts.update_member(admin, auditor.user_id, "admin", None)


# ---- auditor grants -------------------------------------------------------------------------
def test_an_auditor_grant_gives_read_only_access_that_expires_by_itself(w):
    tid = w.signup().tenant.tenant_id
    result = w.accounts.grant_auditor(w.caller(tid, "owner@example.com"), "tax@gov.example", 2, "case 42")
    accepted = w.accounts.accept_invitation(w.mailer.token_for("tax@gov.example"), PASSWORD)
    assert accepted.membership.valid_until == result.grant.valid_until
    principal = w.caller(tid, "tax@gov.example").principal
    assert w.access.authorize(principal, tid, "ledger.read").role == Role.AUDITOR
    with pytest.raises(Forbidden):
        w.access.authorize(principal, tid, "sale.record")
    w.clock.advance(days=2)
    with pytest.raises(NotFound):
        w.access.authorize(principal, tid, "ledger.read")
    assert w.accounts.grants(tid)[0].effective_status(w.clock()) == "expired"


def test_a_revoked_grant_ends_access_at_once_and_cannot_be_revoked_twice(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    auditor = w.join(tid, "owner@example.com", "tax@gov.example", "auditor")
    grant = w.accounts.grants(tid)[0]
    w.accounts.revoke_grant(admin, grant.grant_id)
    with pytest.raises(NotFound):
        w.access.authorize(auditor.principal, tid, "ledger.read")
    with pytest.raises(Conflict):
        w.accounts.revoke_grant(admin, grant.grant_id)
    with pytest.raises(NotFound):
        w.accounts.revoke_grant(admin, "g" + "0" * 20)
    assert w.journal.kinds(tid)[-1] == "auditor_revoked"


def test_a_grant_revoked_before_acceptance_cannot_be_accepted(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    result = w.accounts.grant_auditor(admin, "tax@gov.example", 30)
    w.accounts.revoke_grant(admin, result.grant.grant_id)
    with pytest.raises(ValidationFailed, match="revoked"):
        w.accounts.accept_invitation(w.mailer.token_for("tax@gov.example"), PASSWORD)


@pytest.mark.parametrize("days", [0, 367])
def test_a_grant_lasts_one_day_to_a_year(w, days):
    tid = w.signup().tenant.tenant_id
    with pytest.raises(ValidationFailed) as refused:
        w.accounts.grant_auditor(w.caller(tid, "owner@example.com"), "tax@gov.example", days)
    assert refused.value.field == "days"


# ---- go-live --------------------------------------------------------------------------------
def test_going_live_is_recorded_and_irreversible(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    live = w.tenants.go_live(admin)
    assert (live.mode, live.chain_mode, live.production_since) == ("production", "prod", w.clock())
    event = w.journal.events[-1]
    assert (event["kind"], event["training"], event["actor"]) == ("went_live", False, admin.user_id)
    with pytest.raises(Conflict) as again:
        w.tenants.go_live(admin)
    assert again.value.field == "mode"


def test_going_live_needs_a_verified_email(w):
    tid = w.signup().tenant.tenant_id
    admin = w.caller(tid, "owner@example.com")
    from dataclasses import replace

    w.store.users[admin.user_id] = replace(w.store.users[admin.user_id], email_verified=False)
    with pytest.raises(Forbidden):
        w.tenants.go_live(admin)
    assert w.store.get_tenant(tid).mode == "test"


def test_going_live_needs_complete_company_data(w):
    tid = w.signup().tenant.tenant_id
    from dataclasses import replace

    w.store.tenants[tid] = replace(w.store.tenants[tid], address=None)
    with pytest.raises(ValidationFailed) as refused:
        w.tenants.go_live(w.caller(tid, "owner@example.com"))
    assert refused.value.field == "address"
    assert w.store.get_tenant(tid).mode == "test"


def test_an_unknown_tenant_is_not_found(w):
    with pytest.raises(NotFound):
        w.tenants.get("t" + "0" * 20)


# ---- operators ------------------------------------------------------------------------------
def test_an_operator_account_is_verified_and_flagged(w):
    user = w.accounts.create_operator("op@scelle.example", PASSWORD)
    assert user.operator and user.email_verified and w.identity.users[user.user_id]["confirmed"]
    with pytest.raises(Conflict):
        w.accounts.create_operator("op@scelle.example", PASSWORD)


def test_memberships_list_each_tenant_of_the_caller(w):
    result = w.signup()
    views = w.accounts.memberships(w.caller(result.tenant.tenant_id, "owner@example.com").principal)
    assert [(v.membership.role, v.tenant.company_name) for v in views] == [(Role.ADMIN, "Boulangerie")]


def test_a_late_invitation_window_is_clipped_to_the_grant(w):
    tid = w.signup().tenant.tenant_id
    result = w.accounts.grant_auditor(w.caller(tid, "owner@example.com"), "tax@gov.example", 1)
    assert result.invitation.expires_at == result.grant.valid_until
    assert result.invitation.expires_at - w.clock() == timedelta(days=1)
