"""Declared dependencies (chalicelib/wiring.py, decision 0029): entry points receive what the
composition root built, and a test hands them fakes."""

from __future__ import annotations

import pytest

from chalicelib import bootstrap
from chalicelib.wiring import Service, inject, services_of


class FakeRoot:
    def __init__(self, **services):
        self.__dict__.update(services)


@pytest.fixture
def root(monkeypatch):
    fake = FakeRoot(ledger="the ledger", clock=lambda: "now")
    monkeypatch.setattr(bootstrap, "container", lambda: fake)
    return fake


def test_inject_passes_the_roots_services_and_the_callers_arguments_through(root):
    @inject
    def handler(event, context, *, ledger=Service("ledger"), clock=Service("clock")):
        return event, context, ledger, clock()

    assert handler({"a": 1}, "ctx") == ({"a": 1}, "ctx", "the ledger", "now")
    assert handler.__name__ == "handler"  # Chalice names the Lambda handler after it


def test_a_service_passed_by_the_caller_wins_and_nothing_is_resolved_for_it(monkeypatch):
    monkeypatch.setattr(bootstrap, "container", lambda: pytest.fail("the root was read"))

    @inject
    def handler(event, *, ledger=Service("ledger")):
        return ledger

    assert handler("e", ledger="a fake") == "a fake"


def test_each_call_reads_the_root_again_so_a_reconfigured_root_is_seen(monkeypatch):
    roots = iter([FakeRoot(ledger=1), FakeRoot(ledger=2)])
    monkeypatch.setattr(bootstrap, "container", lambda: next(roots))

    @inject
    def handler(*, ledger=Service("ledger")):
        return ledger

    assert (handler(), handler()) == (1, 2)


def test_a_service_default_must_be_keyword_only_and_inject_needs_one():
    def positional(event, ledger=Service("ledger")):
        return ledger

    with pytest.raises(TypeError, match="keyword-only"):
        services_of(positional)
    with pytest.raises(TypeError, match="without any Service"):
        inject(lambda event: event)
    assert services_of(lambda *, a=Service("ledger"), b=1: None) == {"a": "ledger"}


def test_a_marker_used_as_the_service_says_it_was_not_injected():
    def view(*, ledger=Service("ledger")):
        return ledger.record_sale()

    with pytest.raises(AttributeError, match=r"Service\('ledger'\) was not injected"):
        view()


def test_a_route_is_a_plain_function_a_test_calls_with_fakes():
    from chalicelib.api.chains import list_chains
    from chalicelib.domain.identity import Caller, Principal
    from chalicelib.domain.permissions import Role

    class Directory:
        def chains(self, tenant_id):
            return [f"{tenant_id}:test.sales.R1"]

    caller = Caller(Principal("u1", "a@example.com"), "t1", Role.ADMIN)
    assert list_chains("t1", caller, chain_directory=Directory()).chains == ["t1:test.sales.R1"]
