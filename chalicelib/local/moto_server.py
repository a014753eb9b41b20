"""moto's server, in this process, on loopback only."""

from __future__ import annotations

import logging
import socket
import time
import urllib.request


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
        except OSError:
            raise PortInUse(
                f"port {port} on {host} is already in use ({what}). Is another `scelle local` running? "
                f"Stop it, or choose another port with SCELLE_PORT / --port."
            ) from None


class EmbeddedMoto:
    """Starts ThreadedMotoServer on 127.0.0.1 (its default, 0.0.0.0, would expose it)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedMoto:
        from moto.server import ThreadedMotoServer

        from chalicelib.local.moto_patches import apply_moto_patches

        ensure_port_free(self.host, self.port, "embedded AWS emulator")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        apply_moto_patches()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
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
