"""The local gateway answers as API Gateway and Lambda do at their limits: a response over 6 MB is
a 502, an integration over 29 s a 504, a request body over 10 MB a 413 — each a problem object."""

from __future__ import annotations

import json

from chalice import Chalice
from chalice.config import Config

from chalicelib.local.gateway import INTEGRATION_TIMEOUT_SECONDS, MAX_RESPONSE_BYTES, ProblemLocalGateway


def _app() -> Chalice:
    app = Chalice(app_name="limits")

    @app.route("/size/{n}")
    def size(n):
        return {"blob": "x" * int(n)}

    @app.route("/echo", methods=["POST"])
    def echo():
        return {"length": len(app.current_request.raw_body)}

    return app


class _Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _call(gateway, method: str, path: str, body: bytes | None = None):
    answer = gateway.handle_request(method, path, {"content-type": "application/json"}, body)
    return answer["statusCode"], json.loads(answer["body"])


def test_an_answer_just_under_six_mb_passes_and_one_over_is_a_502_problem():
    gateway = ProblemLocalGateway(_app(), Config())
    overhead = len(json.dumps({"blob": ""}, separators=(",", ":")))  # as Chalice serialises
    status, _ = _call(gateway, "GET", f"/size/{MAX_RESPONSE_BYTES - overhead}")
    assert status == 200
    status, problem = _call(gateway, "GET", f"/size/{MAX_RESPONSE_BYTES - overhead + 1}")
    assert status == 502 and problem["type"].endswith("/response-too-large"), problem


def test_an_integration_over_29_seconds_is_a_504_problem():
    slow = ProblemLocalGateway(_app(), Config(), clock=_Clock(INTEGRATION_TIMEOUT_SECONDS + 0.5))
    status, problem = _call(slow, "GET", "/size/1")
    assert status == 504 and problem["type"].endswith("/gateway-timeout"), problem
    fast = ProblemLocalGateway(_app(), Config(), clock=_Clock(INTEGRATION_TIMEOUT_SECONDS - 0.5))
    assert _call(fast, "GET", "/size/1")[0] == 200


def test_a_body_over_the_limit_is_a_413_before_the_app_runs():
    gateway = ProblemLocalGateway(_app(), Config(), max_body_bytes=1000)
    assert _call(gateway, "POST", "/echo", b"{" + b" " * 997 + b"}")[0] == 200
    status, problem = _call(gateway, "POST", "/echo", b"{" + b" " * 999 + b"}")
    assert status == 413 and problem["type"].endswith("/payload-too-large")
