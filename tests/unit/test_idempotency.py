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


class _Killed(BaseException):
    """The Lambda is killed at its timeout: no handler code runs after this."""


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_request_killed_by_its_lambda_timeout_frees_its_key_when_its_time_is_up():
    import time

    runner = IdempotentRunner(InMemoryPersistence(), lambda_context=lambda: _Context(remaining_ms=50))

    def killed():
        raise _Killed

    with pytest.raises(_Killed):
        runner.run("t1#export#u1", "k-1", {"a": 1}, killed)
    with pytest.raises(Conflict):  # its Lambda could still be running
        runner.run("t1#export#u1", "k-1", {"a": 1}, lambda: {"job": 2})
    time.sleep(0.08)
    assert runner.run("t1#export#u1", "k-1", {"a": 1}, lambda: {"job": 2}) == {"job": 2}


def test_without_a_lambda_context_a_killed_request_keeps_its_key_blocked():
    runner = IdempotentRunner(InMemoryPersistence())
    with pytest.raises(_Killed):
        runner.run("t1#export#u1", "k-1", {"a": 1}, lambda: (_ for _ in ()).throw(_Killed()))
    with pytest.raises(Conflict):
        runner.run("t1#export#u1", "k-1", {"a": 1}, lambda: {"job": 2})
