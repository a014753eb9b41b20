"""Tenant, password policy, email addresses, one-time tokens and the sign-in throttle."""

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.domain.accounts import (
    OneTimeToken,
    PasswordPolicy,
    SignInPolicy,
    ThrottleState,
    hash_token,
    is_id,
    new_id,
    normalise_email,
)
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.tenant import Address, Tenant

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def tenant(**kw):
    base = dict(
        tenant_id="t1",
        company_name="Co",
        country="BE",
        company_number="0403170701",
        vat_number="BE0403170701",
        address=Address("Rue 1", "1000", "Bruxelles", "BE"),
    )
    base.update(kw)
    return Tenant(**base)


# ---- Tenant ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("country", "zone"), [("BE", "Europe/Brussels"), ("FR", "Europe/Paris")])
def test_a_tenant_takes_its_countrys_time_zone_and_a_four_oclock_cut_off_by_default(country, zone):
    t = tenant(country=country)
    assert t.time_zone == zone
    assert t.business_day_cutoff == time(4, 0)


def test_a_new_tenant_is_in_test_mode_and_its_records_are_training_data():
    t = tenant()
    assert (t.mode, t.chain_mode, t.training) == ("test", "test", True)


def test_going_live_moves_the_chains_to_prod_and_cannot_be_done_twice():
    live = tenant().gone_live(NOW)
    assert (live.mode, live.chain_mode, live.training, live.production_since) == ("production", "prod", False, NOW)
    with pytest.raises(ValueError, match="already in production"):
        live.gone_live(NOW)


def test_missing_company_data_is_named():
    assert tenant().missing_company_data() == []
    assert tenant(vat_number="", address=None).missing_company_data() == ["vat_number", "address"]
    assert tenant(address=Address("", "1000", "", "BE")).missing_company_data() == ["address.line1", "address.city"]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        tenant(mode="live")


# ---- passwords and emails -------------------------------------------------------------------
@pytest.mark.parametrize(
    "password",
    [
        "Short1a",
        "alllowercase12",
        "ALLUPPERCASE12",
        "NoDigitsHere",
        " Spaced12Abc",
        "Abcdefghi1" + "x" * 60,
        "Tab\tinside12A",
    ],
)
def test_a_password_breaking_the_policy_is_refused_with_the_policy_stated(password):
    with pytest.raises(ValidationFailed) as refused:
        PasswordPolicy().check(password)
    assert refused.value.field == "password"
    assert "10 to 64 characters" in refused.value.detail and "a digit" in refused.value.detail


def test_a_generated_password_satisfies_the_policy():
    for _ in range(50):
        PasswordPolicy().check(PasswordPolicy().generate())


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [(" Owner@Example.COM ", "owner@example.com"), ("a.b+c@sub.example.be", "a.b+c@sub.example.be")],
)
def test_an_email_address_is_trimmed_and_lower_cased(raw, canonical):
    assert normalise_email(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["", "no-at-sign", "a@b", "a@@b.com", "a b@c.com", "a@b.c", 42, None, "x" * 250 + "@a.com"]
)
def test_a_malformed_email_address_is_refused_naming_the_field(raw):
    with pytest.raises(ValidationFailed) as refused:
        normalise_email(raw, "email")
    assert refused.value.field == "email"


def test_ids_carry_their_kind_and_are_recognised():
    assert is_id(new_id("t"), "t") and is_id(new_id("g"), "g")
    assert not is_id(new_id("g"), "t")


# ---- tokens ---------------------------------------------------------------------------------
def test_a_one_time_token_stores_only_its_hash_and_is_usable_once_until_it_expires():
    secret, token = OneTimeToken.issue("verify_email", NOW, timedelta(hours=24), user_id="u")
    assert token.token_hash == hash_token(secret) != secret
    assert token.usable(NOW + timedelta(hours=23))
    assert not token.usable(NOW + timedelta(hours=24))
    from dataclasses import replace

    assert not replace(token, used_at=NOW).usable(NOW)


# ---- sign-in throttle -----------------------------------------------------------------------
def fail(policy, state, at, times=1):
    for _ in range(times):
        state = policy.after_failure(state, at)
    return state


def test_the_first_failures_cost_nothing():
    policy = SignInPolicy()
    state = fail(policy, ThrottleState(), NOW, times=2)
    assert policy.wait(state, NOW) is None


def test_after_the_free_failures_each_attempt_waits_twice_as_long():
    policy = SignInPolicy()
    state = fail(policy, ThrottleState(), NOW, times=3)
    assert policy.wait(state, NOW) == ("slow_down", 1)
    assert policy.wait(state, NOW + timedelta(seconds=1)) is None
    state = fail(policy, state, NOW + timedelta(seconds=1))
    assert policy.wait(state, NOW + timedelta(seconds=1)) == ("slow_down", 2)
    state = fail(policy, state, NOW + timedelta(seconds=3))
    assert policy.wait(state, NOW + timedelta(seconds=3)) == ("slow_down", 4)


def test_repeated_failures_lock_the_address_for_a_while_then_it_opens_again():
    policy = SignInPolicy(free_failures=10, lock_after=6, lock_for=timedelta(minutes=15))
    state = fail(policy, ThrottleState(), NOW, times=6)
    assert policy.wait(state, NOW) == ("locked", 900)
    assert policy.wait(state, NOW + timedelta(minutes=14, seconds=59)) == ("locked", 1)
    assert policy.wait(state, NOW + timedelta(minutes=15)) is None
    assert policy.after_failure(state, NOW + timedelta(minutes=15)).failures == 1


def test_old_failures_are_forgotten_after_the_window():
    policy = SignInPolicy(window=timedelta(minutes=15))
    state = fail(policy, ThrottleState(), NOW, times=5)
    later = NOW + timedelta(minutes=15)
    assert policy.wait(state, later) is None
    assert policy.after_failure(state, later).failures == 1


def test_the_throttle_state_expires_when_nothing_remains_to_remember():
    policy = SignInPolicy()
    assert policy.expires(ThrottleState()) is None
    state = fail(policy, ThrottleState(), NOW, times=6)
    assert policy.expires(state) == NOW + timedelta(minutes=15)
