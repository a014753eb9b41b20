"""moto's server, in this process, on loopback only."""

from __future__ import annotations

import errno
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
    """ThreadedMotoServer whose WSGI app is ``wrap(app)``."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class WrappedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = wrap(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return WrappedMotoServer(**kwargs)
