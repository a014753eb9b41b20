"""moto's server, in this process, on loopback only."""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import socket
import time
import urllib.request
from pathlib import Path


class PortInUse(Exception):
    """The requested port is taken (often: another ``scelle local`` is running)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ensure_port_free(host: str, port: int, what: str) -> None:
    with socket.socket() as s:
        # As the HTTP server binds: connections in TIME_WAIT after a clean stop do not count,
        # while a live listener on the port still makes bind() fail.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:  # not ours to take: an address of another machine...
                raise PortInUse(
                    f"cannot listen on {host} port {port} ({what}): {exc.strerror or exc}. "
                    "Check SCELLE_HOST: an address of this machine such as 127.0.0.1."
                ) from None
            raise PortInUse(
                f"port {port} on {host} is already in use ({what}). Is another `scelle local` running? "
                f"Stop it, or choose another port with SCELLE_PORT / --port."
            ) from None


class EmbeddedMoto:
    """Starts ThreadedMotoServer on 127.0.0.1 (its default, 0.0.0.0, would expose it).

    Its Cognito signs tokens with the key in ``cognito_key_file`` (created there, mode 0600, on
    first use) or, without one, with a key drawn for this process, never with the key shipped in
    moto's package (chalicelib/local/moto_patches.py).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", cognito_key_file: Path | None = None,
                 durable=None) -> None:
        """``durable``: a callable that wraps moto's WSGI app (``redo_log.DurableEmulator``), so that
        every change it acknowledges is logged on disk before the answer (local mode)."""
        self.host = host
        self.port = port or free_port(host)
        self.cognito_key_file = cognito_key_file
        self._durable = durable
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedMoto:
        from chalicelib.local.moto_patches import apply_moto_patches, secure_cognito_signing

        ensure_port_free(self.host, self.port, "embedded AWS emulator")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        apply_moto_patches()
        secure_cognito_signing(self.cognito_key_file)
        durable = self._durable
        # S3's refusal of expired pre-signed URLs, which moto does not do (docs/exports.md).
        wrap = (lambda app: durable(PresignedUrlLimits(app))) if durable is not None else PresignedUrlLimits
        self._server = _WrappedMotoServer(wrap, ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).read()  # noqa: S310 (loopback)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def connections_accepted(self) -> int:
        """TCP connections the emulator has served since its start (keep-alive reuses them)."""
        return self._server.connections_accepted if self._server is not None else 0

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


MAX_PRESIGNED_EXPIRES = 604_800  # SigV4 query signing: at most 7 days


class PresignedUrlLimits:
    """A WSGI middleware in front of moto: a SigV4 pre-signed URL (``X-Amz-Date`` and
    ``X-Amz-Expires`` in its query; or SigV2's ``Expires`` epoch) is refused once expired, 403
    ``AccessDenied`` "Request has expired", and one valid for more than 7 days is refused, 400
    ``AuthorizationQueryParametersError``, as S3 does
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html). moto serves
    both."""

    def __init__(self, app, clock=time.time) -> None:
        self._app = app
        self._clock = clock

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if "Expires=" in query and "AWSAccessKeyId=" in query:  # SigV2 query signing: an epoch deadline
            from urllib.parse import parse_qs

            try:
                deadline = int(parse_qs(query)["Expires"][0])
            except (KeyError, ValueError):
                deadline = 0
            if self._clock() > deadline:
                return self._refuse(start_response, "403 Forbidden", "AccessDenied", "Request has expired")
        if "X-Amz-Expires=" in query:
            from datetime import UTC, datetime
            from urllib.parse import parse_qs

            params = parse_qs(query)
            try:
                expires = int(params["X-Amz-Expires"][0])
                signed = datetime.strptime(params["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except (KeyError, ValueError):
                return self._refuse(start_response, "400 Bad Request", "AuthorizationQueryParametersError",
                                    "X-Amz-Date and X-Amz-Expires must be a date and a number of seconds")
            if not 1 <= expires <= MAX_PRESIGNED_EXPIRES:
                return self._refuse(start_response, "400 Bad Request", "AuthorizationQueryParametersError",
                                    "X-Amz-Expires must be less than a week (in seconds) that is 604800")
            if self._clock() > signed.timestamp() + expires:
                return self._refuse(start_response, "403 Forbidden", "AccessDenied", "Request has expired")
        return self._app(environ, start_response)

    @staticmethod
    def _refuse(start_response, status: str, code: str, message: str):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                "</Error>").encode()
        start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]


def _WrappedMotoServer(wrap, **kwargs):
    """ThreadedMotoServer whose WSGI app is ``wrap(app)``, served with HTTP/1.1 keep-alive
    (``_keep_alive_handler``); ``stop`` also ends the connections still open."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import ThreadedWSGIServer

    handler = _keep_alive_handler()

    class KeepAliveServer(ThreadedWSGIServer):
        def __init__(self, *args, **kw) -> None:
            super().__init__(*args, **kw)
            self.open_connections: set[socket.socket] = set()
            self.connections_accepted = 0  # TCP connections served since the start (tests: keep-alive)

    class WrappedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = wrap(DomainDispatcherApplication(create_backend_app))
            self._server = KeepAliveServer(self._ip_address, self._port, app, handler)
            self._server_ready_event.set()
            self._server.serve_forever()

        @property
        def connections_accepted(self) -> int:
            return self._server.connections_accepted if self._server is not None else 0

        def stop(self) -> None:
            server = self._server
            super().stop()
            # Kept-alive connections outlive the listener: their threads would go on answering a
            # client (with this stopped emulator) until it hangs up. End them; a request being
            # answered still gets its answer (only the reading side is shut).
            for connection in list(getattr(server, "open_connections", ())):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)

    return WrappedMotoServer(**kwargs)


# An idle kept-alive connection is closed after this long (the client opens a new one).
KEEP_ALIVE_IDLE_SECONDS = 300
# After an answer, up to this much of a request body the app left unread is read and dropped to
# keep the connection; a larger rest (an upload refused early) closes the connection instead.
DRAIN_LIMIT_BYTES = 1_048_576


class _RequestBody(io.RawIOBase):
    """``wsgi.input`` of a request with a ``Content-Length``: exactly that many bytes of the
    connection, never a byte of the next request on it."""

    def __init__(self, stream, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.remaining <= 0:
            return 0
        with memoryview(buffer) as view:
            got = self._stream.readinto(view[: self.remaining])  # a buffered reader: full unless EOF
        if not got:
            from werkzeug.exceptions import ClientDisconnected

            raise ClientDisconnected()
        self.remaining -= got
        return got


def _keep_alive_handler():
    """moto's request handler, answering with HTTP/1.1 keep-alive.

    werkzeug's development server (3.x) ends every answer with ``Connection: close`` (it cannot
    tell where a request body ends), so botocore opened a new TCP connection for every AWS call
    to the emulator. This handler gives the app a body bounded by ``Content-Length`` (or
    de-chunked), reads what the app left of it, and answers with a ``Content-Length`` (none on
    1xx/204, as RFC 9110 says; a ``HEAD`` or 304 keeps the app's and has no body), in one write,
    with TCP_NODELAY. The app's answer is complete before anything is sent, as before (the redo
    log's middleware already waited for it), so durability is unchanged: nothing is sent before
    the app returns. A request the app fails on gets werkzeug's 500 and the connection is closed.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.exceptions import InternalServerError

    class KeepAliveMotoRequestHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = KEEP_ALIVE_IDLE_SECONDS
        disable_nagle_algorithm = True
        wbufsize = -1  # buffered: the status line, headers and body leave in one write

        def setup(self) -> None:
            super().setup()
            self.server.connections_accepted += 1
            self.server.open_connections.add(self.connection)

        def finish(self) -> None:
            self.server.open_connections.discard(self.connection)
            super().finish()

        def make_environ(self) -> dict:
            environ = super().make_environ()
            if not environ.get("wsgi.input_terminated"):  # chunked: werkzeug's DechunkedInput ends it
                try:
                    length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
                except ValueError:
                    length = 0
                    self.close_connection = True  # where this body ends is unknown
                environ["wsgi.input"] = _RequestBody(self.rfile, length)
            return environ

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.wfile.flush()
            self.environ = environ = self.make_environ()
            body = environ["wsgi.input"]  # the middlewares may replace environ's; this one is the socket's
            try:
                status, headers, data = self._call(self.server.app, environ)
            except self.connection_dropped_errors as exc:
                self.close_connection = True
                self.connection_dropped(exc, environ)
                return
            except Exception as exc:
                if self.server.passthrough_errors:
                    raise
                from werkzeug.debug.tbtools import DebugTraceback

                self.close_connection = True
                self.server.log("error", f"Error on request:\n{DebugTraceback(exc).render_traceback_text()}")
                status, headers, data = self._call(InternalServerError(), environ)
            if not self._drain(body):
                self.close_connection = True
            self._answer(status, headers, data)

        @staticmethod
        def _call(app, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
            answer: dict = {}
            written: list[bytes] = []

            def start_response(status, headers, exc_info=None):
                answer["status"], answer["headers"] = status, headers
                return written.append

            result = app(environ, start_response)
            try:
                written.extend(result)
            finally:
                getattr(result, "close", lambda: None)()
            return answer["status"], answer["headers"], b"".join(written)

        @staticmethod
        def _drain(body) -> bool:
            """Read what the app left of the request body; False when the connection cannot be kept."""
            try:
                if isinstance(body, _RequestBody):
                    if body.remaining > DRAIN_LIMIT_BYTES:
                        return False
                    while body.remaining:
                        body.read(min(body.remaining, 65_536))
                    return True
                left = DRAIN_LIMIT_BYTES  # chunked
                while left > 0:
                    chunk = body.read(65_536)
                    if not chunk:
                        return True
                    left -= len(chunk)
                return False
            except Exception:
                return False

        def _answer(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
            code_text, _, reason = status.partition(" ")
            code = int(code_text)
            no_length = 100 <= code < 200 or code == 204  # RFC 9110: no Content-Length on those
            keeps_length = self.command == "HEAD" or code == 304  # the length a GET would have
            self.send_response(code, reason or None)
            for name, value in headers:
                lower = name.lower()
                if lower == "transfer-encoding" or (lower == "content-length" and not keeps_length):
                    continue
                if lower == "connection":
                    if "close" in value.lower():
                        self.close_connection = True
                    continue
                self.send_header(name, value)
            if not (no_length or keeps_length):
                self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            elif self.request_version == "HTTP/1.0":
                self.send_header("Connection", "keep-alive")
            self.end_headers()
            if not (no_length or keeps_length):
                self.wfile.write(data)
            self.wfile.flush()

        def log_request(self, code="-", size="-") -> None:
            if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):  # quiet: skip the formatting
                super().log_request(code, size)

        def log_error(self, format: str, *args) -> None:
            if not format.startswith("Request timed out"):  # an idle kept-alive connection, closed
                super().log_error(format, *args)

    return KeepAliveMotoRequestHandler
