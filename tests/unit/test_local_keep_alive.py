"""HTTP/1.1 keep-alive on 127.0.0.1: the embedded AWS emulator (chalicelib/local/moto_server.py)
and the local API gateway (chalicelib/local/gateway.py) answer every request so that the client
can send the next one on the same TCP connection — counted on the server side."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config as BotoConfig

from chalicelib.local.moto_server import EmbeddedMoto
from chalicelib.local.redo_log import DurableEmulator, RedoLog


def _client(moto: EmbeddedMoto, service: str, region: str = "eu-west-1") -> Any:
    return boto3.client(service, endpoint_url=moto.endpoint, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=BotoConfig(retries={"max_attempts": 1}, signature_version="s3v4"))


def _table(ddb: Any) -> str:
    name = f"keep-alive-{uuid.uuid4().hex[:8]}"  # moto's backends outlive an emulator in this process
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return name


@pytest.fixture
def moto() -> Iterator[EmbeddedMoto]:
    emulator = EmbeddedMoto().start()
    try:
        yield emulator
    finally:
        emulator.stop()


def test_two_aws_calls_through_one_botocore_client_use_one_tcp_connection(moto: EmbeddedMoto) -> None:
    ddb = _client(moto, "dynamodb")
    before = moto.connections_accepted
    table = _table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):  # an error answer keeps it too
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)")
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}
    assert moto.connections_accepted - before == 1


def test_the_durable_emulator_keeps_the_connection_and_logs_each_change_before_its_answer(tmp_path) -> None:
    log = RedoLog(tmp_path / "redo")
    emulator = EmbeddedMoto(durable=lambda app: DurableEmulator(app, log)).start()
    try:
        ddb = _client(emulator, "dynamodb")
        before = emulator.connections_accepted
        table = _table(ddb)
        for n in range(3):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}}, ConditionExpression="attribute_not_exists(pk)")
            # Answered: on disk already (what the log holds is what a restart replays).
            assert [r["key"]["pk"]["S"] for r in log.records()] == [f"k{i}" for i in range(n + 1)]
        assert emulator.connections_accepted - before == 1
    finally:
        emulator.stop()
        log.close()


def _raw(conn: http.client.HTTPConnection, method: str, url: str, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    target = urlsplit(url)
    conn.request(method, f"{target.path}?{target.query}" if target.query else target.path or "/", body=body,
                 headers=headers or {})
    answer = conn.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def test_every_answer_is_framed_so_the_connection_goes_on(moto: EmbeddedMoto) -> None:
    """HEAD, 204, errors, a body the emulator refuses unread and a chunked body: each answer has a
    Content-Length (none on the 204), none closes the connection, and no read hangs."""
    s3 = _client(moto, "s3", region="us-east-1")
    bucket = f"keep-alive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 5000)
    url = lambda op, expires=300: s3.generate_presigned_url(  # noqa: E731
        op, Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=expires)
    before = moto.connections_accepted
    conn = http.client.HTTPConnection("127.0.0.1", moto.port, timeout=10)
    try:
        status, headers, body = _raw(conn, "HEAD", url("head_object"))
        assert (status, headers["content-length"], body) == (200, "5000", b"")
        status, headers, body = _raw(conn, "GET", url("get_object"))
        assert (status, headers["content-length"], len(body)) == (200, "5000", 5000)
        # Refused before moto reads the 200 KB body (valid for more than 7 days): the rest is drained.
        status, headers, body = _raw(conn, "PUT", url("put_object", expires=700_000), body=b"y" * 200_000)
        assert status == 400 and int(headers["content-length"]) == len(body) and b"604800" in body
        status, headers, body = _raw(conn, "GET", "/moto-api/does-not-exist")
        assert status == 404 and int(headers["content-length"]) == len(body)
        # An iterable body: http.client sends it chunked.
        status, headers, body = _raw(conn, "PUT", url("put_object"), body=iter([b"chunked ", b"body"]))
        assert status == 200 and int(headers["content-length"]) == len(body)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"chunked body"
        status, headers, body = _raw(conn, "DELETE", url("delete_object"))
        assert (status, body) == (204, b"") and "content-length" not in headers
        status, headers, body = _raw(conn, "HEAD", url("head_object"))
        assert status == 404 and body == b""
        assert "close" not in headers.get("connection", "")
    finally:
        conn.close()
    # The S3 client's own connection, and this one: none of the seven answers closed it.
    assert moto.connections_accepted - before == 1


def test_stopping_the_emulator_ends_its_kept_alive_connections() -> None:
    emulator = EmbeddedMoto().start()
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        assert _raw(conn, "GET", "/moto-api/")[0] == 200
        started = time.monotonic()
        emulator.stop()
        assert conn.sock.recv(1) == b""  # closed by the server, not left to a thread that answers on
        assert time.monotonic() - started < 5
    finally:
        conn.close()
        emulator.stop()


# ---- the local API gateway ----------------------------------------------------------------------------
@pytest.fixture
def gateway() -> Iterator[tuple[int, list[int]]]:
    from chalice import Chalice, Response
    from chalice.config import Config
    from chalice.local import LocalChalice, LocalDevServer

    from chalicelib.local.gateway import ProblemRequestHandler
    from chalicelib.local.moto_server import free_port

    app = Chalice(app_name="keep-alive")

    @app.route("/thing")
    def thing():
        return {"ok": True}

    @app.route("/thing", methods=["DELETE"])
    def remove():
        return Response(body="", status_code=204)

    @app.route("/echo", methods=["POST"])
    def echo():
        return {"length": len(app.current_request.raw_body or b"")}

    app.__class__ = type("_ThreadLocalApp", (LocalChalice, Chalice), {})
    accepted: list[int] = []

    class Counting(ProblemRequestHandler):
        def setup(self) -> None:
            accepted.append(1)
            super().setup()

    port = free_port()
    dev = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", port, handler_cls=Counting)
    thread = threading.Thread(target=dev.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, accepted
    finally:
        dev.shutdown()
        dev.server.server_close()
        thread.join(timeout=10)


def test_the_gateway_answers_every_request_on_one_kept_alive_connection(gateway) -> None:
    port, accepted = gateway
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        assert _raw(conn, "GET", "/thing")[::2] == (200, b'{"ok":true}')
        status, headers, body = _raw(conn, "GET", "/nowhere")
        assert status == 404 and headers["content-type"] == "application/problem+json"
        assert int(headers["content-length"]) == len(body)
        assert _raw(conn, "DELETE", "/thing")[::2] == (204, b"")
        status, headers, body = _raw(conn, "TRACE", "/thing")
        assert status == 405 and json.loads(body)["status"] == 405
        # A chunked body is read whole (it used to be left on the connection and read as the next request).
        status, _, body = _raw(conn, "POST", "/echo", body=iter([b"{\"a\":", b" 1}"]),  # sent chunked
                               headers={"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (200, {"length": 8})
        assert _raw(conn, "POST", "/echo", body=b"{}", headers={"Content-Type": "application/json"})[0] == 200
    finally:
        conn.close()
    assert len(accepted) == 1


def test_the_gateway_refuses_a_body_it_cannot_frame_with_a_problem_and_closes(gateway) -> None:
    port, _ = gateway
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}")
        answer = b""
        while chunk := sock.recv(65536):  # the server closes after the answer: no hang
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Connection: close" in head
    assert b"application/problem+json" in head and json.loads(body)["status"] == 400
