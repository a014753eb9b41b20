import pytest

from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.services.idempotency import IdempotentRunner, InMemoryPersistence


@pytest.fixture
def runner():
    return IdempotentRunner(InMemoryPersistence())


def test_a_retried_request_returns_the_first_result_without_running_again(runner):
    calls = []

    def work():
        calls.append(1)
        return {"seq": len(calls)}

    first = runner.run("t1#u1#sale", "k-1", {"total": "1.00"}, work)
    again = runner.run("t1#u1#sale", "k-1", {"total": "1.00"}, work)
    assert first == again == {"seq": 1}
    assert len(calls) == 1


def test_the_same_key_with_another_body_is_a_conflict_naming_the_header(runner):
    runner.run("t1#u1#sale", "k-1", {"total": "1.00"}, lambda: {"seq": 1})
    with pytest.raises(Conflict) as err:
        runner.run("t1#u1#sale", "k-1", {"total": "2.00"}, lambda: {"seq": 2})
    assert err.value.field == "Idempotency-Key"


def test_keys_are_scoped_so_two_tenants_never_collide(runner):
    assert runner.run("t1#u1#sale", "same", {"a": 1}, lambda: {"who": "t1"}) == {"who": "t1"}
    assert runner.run("t2#u1#sale", "same", {"a": 1}, lambda: {"who": "t2"}) == {"who": "t2"}


def test_a_failed_attempt_releases_the_key(runner):
    def boom():
        raise ValidationFailed("bad", field="x")

    with pytest.raises(ValidationFailed):
        runner.run("s", "k", {"a": 1}, boom)
    assert runner.run("s", "k", {"a": 1}, lambda: {"ok": True}) == {"ok": True}


def test_no_key_means_no_idempotency(runner):
    results = [runner.run("s", None, {}, lambda: {"n": i}) for i in range(2)]
    assert results == [{"n": 0}, {"n": 1}]


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "é"])
def test_a_malformed_key_is_refused_naming_the_header(runner, bad):
    with pytest.raises(ValidationFailed) as err:
        runner.run("s", bad, {}, lambda: {})
    assert err.value.field == "Idempotency-Key"
