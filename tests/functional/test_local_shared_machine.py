"""Local mode on a shared machine (issue 13, item 4): what another account on the same machine
can no longer do against a running ``scelle local``.

- Forge a Cognito token with the private key shipped inside moto's package: the local user pool
  signs with a key of its own data directory, so such a token is a 401 (tests/unit/
  test_cognito_signing_key.py checks the key itself).
- Read every tenant's mail (verification and invitation tokens) at ``/v1/local/outbox`` or drop
  mail into support as anyone at ``/v1/local/inbound-mail``: both need the local operator token
  (tests/functional/test_signup.py and test_tickets.py check the routes in detail).
- Get an HTML page from the HTTP server: any method the API does not use is a 405 problem (with
  ``Allow`` on a known path), and the HTTP layer's own refusals are problem objects too.

The HTTP tests run the handler ``scelle local`` serves with on a real server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from joserfc import jwk
from joserfc import jwt as jose_jwt
from moto.utilities.utils import load_resource

from tests.support.users import local_operator_headers, sign_in, signed_up_account, signup_body

pytestmark = pytest.mark.functional


def _forged_with_motos_key(claims: dict) -> str:
    """What anyone with moto installed can make: any claims, signed with moto's bundled key, in
    the form moto itself issues (kid "dummy", RS256)."""
    bundled = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    now = int(time.time())
    return jose_jwt.encode({"kid": "dummy", "alg": "RS256"}, {**claims, "iat": now, "exp": now + 3600}, bundled)


# ---- Cognito tokens ----------------------------------------------------------------------------
def test_a_token_forged_with_motos_bundled_key_is_refused_and_a_signed_in_token_works(api, stack):
    victim = signed_up_account(api, stack)
    other = signed_up_account(api, stack, "FR")
    tokens = sign_in(api, victim.email)
    for kind in ("id_token", "access_token"):
        me = api.with_token(tokens[kind]).get("/v1/me")
        assert me.status == 200 and me.json["user_id"] == victim.user_id, me

    forged = [
        # the victim's own claims, re-signed: only the key differs from a genuine token
        _forged_with_motos_key(jwt.decode(tokens["id_token"], options={"verify_signature": False})),
        _forged_with_motos_key(jwt.decode(tokens["access_token"], options={"verify_signature": False})),
        # another tenant's admin, made up from scratch as an attacker would
        _forged_with_motos_key({
            "iss": f"https://cognito-idp.{stack.settings.region}.amazonaws.com/{stack.settings.user_pool_id}",
            "sub": other.user_id, "aud": stack.settings.user_pool_client_id, "token_use": "id",
            "email": other.email, "cognito:username": other.user_id, "origin_jti": "forged", "jti": "forged",
        }),
    ]
    for token in forged:
        reply = api.with_token(token).get("/v1/me")
        assert reply.status == 401 and reply.json["type"].endswith("/unauthenticated"), reply
        refused = api.with_token(token).get(f"/v1/tenants/{other.tenant_id}/events")
        assert refused.status == 401, refused
    # The genuine tokens still work after the forgeries were refused.
    assert api.with_token(tokens["id_token"]).get("/v1/me").status == 200


# ---- a real HTTP server, as `scelle local` serves the app --------------------------------------
@pytest.fixture
def http_port(api) -> Iterator[int]:
    from chalice.config import Config
    from chalice.local import LocalChalice, LocalDevServer

    from app import app
    from chalicelib.local.gateway import ProblemRequestHandler
    from chalicelib.local.moto_server import free_port

    original = app.__class__
    if not isinstance(app, LocalChalice):  # a thread-local current_request, as `chalice local` does
        app.__class__ = type("_ThreadLocalApp", (LocalChalice, original), {})
    port = free_port()
    server = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", port, handler_cls=ProblemRequestHandler)
    thread = threading.Thread(target=server.server.serve_forever, name="local-http", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app.__class__ = original


def _request(conn: http.client.HTTPConnection, method: str, path: str, headers: dict | None = None):
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is and read the whole answer (the server closes after an error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _is_problem(status: int, headers: dict, body: bytes) -> dict:
    assert headers["content-type"] == "application/problem+json", (status, headers, body)
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("https://scelle.example/problems/")
    assert b"<html" not in body.lower() and b"<!doctype" not in body.lower()
    return problem


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO", "get"])
def test_a_method_the_api_does_not_use_is_a_405_problem_with_allow_on_a_known_path(http_port, method):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    try:
        status, headers, body = _request(conn, method, "/health")
        assert status == 405
        problem = _is_problem(status, headers, body)
        assert problem["type"].endswith("/method-not-allowed") and headers["allow"] == "GET"
        status, headers, body = _request(conn, method, "/v1/tenants/t-1/sales")  # a path with parameters
        assert status == 405 and _is_problem(status, headers, body) and set(headers["allow"].split(", ")) >= {"POST"}
        status, headers, body = _request(conn, method, "/no/such/route")
        assert status == 405 and _is_problem(status, headers, body) and "allow" not in headers
        # Keep-alive still works after each answer: the next request on the connection is served.
        status, _, _ = _request(conn, "GET", "/health")
        assert status == 200
    finally:
        conn.close()


def test_a_method_used_elsewhere_is_still_answered_by_the_app_with_allow(http_port):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    try:
        status, headers, body = _request(conn, "DELETE", "/health")
        assert status == 405 and _is_problem(status, headers, body) and headers["allow"] == "GET"
        status, headers, body = _request(conn, "GET", "/no/such/route")
        assert status == 404 and _is_problem(status, headers, body)
    finally:
        conn.close()


def test_head_is_a_405_without_a_body_and_the_connection_stays_usable(http_port):
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    try:
        status, headers, body = _request(conn, "HEAD", "/health")
        assert status == 405 and headers["allow"] == "GET" and body == b""
        assert headers["content-type"] == "application/problem+json" and int(headers["content-length"]) > 0
        status, _, body = _request(conn, "GET", "/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
    finally:
        conn.close()


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /health HTTP/9.9\r\n\r\n", 505),
    (b"GET /health HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
])
def test_what_the_http_layer_refuses_itself_is_a_problem_too(http_port, request_bytes, status):
    got, headers, body = _raw(http_port, request_bytes)
    assert got == status
    _is_problem(got, headers, body)


def test_the_outbox_over_http_needs_the_local_operator_token(http_port, api):
    body = signup_body("BE")
    assert api.post("/v1/signup", body).status == 201
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    try:
        status, headers, raw = _request(conn, "GET", f"/v1/local/outbox?to={body['email']}")
        assert status == 401 and _is_problem(status, headers, raw) and headers["www-authenticate"].startswith("Bearer")
        status, _, raw = _request(conn, "GET", f"/v1/local/outbox?to={body['email']}", local_operator_headers())
        assert status == 200 and json.loads(raw)["messages"][0]["to"] == body["email"]
    finally:
        conn.close()


def test_scelle_support_mail_sends_the_local_operator_token_from_the_data_dir(http_port, stack, tmp_path, capsys):
    from email.message import EmailMessage

    from chalicelib.cli import build_parser

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "nobody-known@example.com", "support@scelle.example", "Hello"
    msg.set_content("Body")
    eml = tmp_path / "message.eml"
    eml.write_bytes(msg.as_bytes())
    api = f"http://127.0.0.1:{http_port}"

    ok = build_parser().parse_args(["support-mail", str(eml), "--api", api,
                                    "--data-dir", str(stack.settings.data_dir)])
    assert ok.func(ok) == 0
    # The route took the message (it answers an outcome only to the local operator token).
    assert json.loads(capsys.readouterr().out)["outcome"] == "dropped: unknown sender"

    empty = tmp_path / "not-the-data-dir"
    refused = build_parser().parse_args(["support-mail", str(eml), "--api", api, "--data-dir", str(empty)])
    assert refused.func(refused) == 1
    err = capsys.readouterr().err
    assert "401" in err and str(Path(empty) / "local-operator.token") in err and "--data-dir" in err
