"""The Chalice app on a real HTTP server on 127.0.0.1, as ``scelle local`` serves it (its request
handler and problem-aware gateway, so the real JWT authorizer and handlers run), and a keep-alive
client. Shared by the tills test (tests/functional/test_tills.py) and the end-to-end benchmark
(bench/bench_http_sales.py); and the embedded emulator in a child process."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


class HttpServer:
    """Chalice's handler writes an answer's headers and body in two sends; with Nagle's algorithm
    on, the body then waits for the client's delayed ACK, about 40 ms per answer on Linux
    loopback, whatever the route does. That stall belongs to the local dev server (API Gateway has
    none), so ``nodelay`` (the default) removes it."""

    def __init__(self, app, *, nodelay: bool = True, name: str = "http") -> None:
        from chalice.config import Config
        from chalice.local import LocalChalice, LocalDevServer

        from chalicelib.local.gateway import ProblemRequestHandler
        from chalicelib.local.moto_server import free_port

        class _Handler(ProblemRequestHandler):  # every method, HTTP-level errors as problems
            def setup(self):
                if nodelay:
                    self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()

        self.app, self._original_class = app, app.__class__
        if not isinstance(app, LocalChalice):  # a thread-local current_request, as `chalice local` does
            app.__class__ = type("_ThreadLocalApp", (LocalChalice, app.__class__), {})
        self.port = free_port("127.0.0.1")
        self.dev = LocalDevServer(app, Config(chalice_stage="local"), "127.0.0.1", self.port, handler_cls=_Handler)
        self._thread = threading.Thread(target=self.dev.server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.dev.shutdown()
        self.dev.server.server_close()
        self._thread.join(timeout=10)
        self.app.__class__ = self._original_class


class Http:
    """One keep-alive connection to 127.0.0.1 (one per till)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port, self.token = port, token
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(3):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self._conn.connect()
                self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._conn.request(method, path, body=data, headers=hdrs)
                resp = self._conn.getresponse()
                raw = resp.read()
                return resp.status, dict(resp.getheaders()), (json.loads(raw) if raw else None)
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_all(self, path: str, key: str, limit: int) -> list[dict]:
        """Every item of a paginated list route."""
        found, cursor = [], None
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit={limit}" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
            status, _, body = self.request("GET", url)
            assert status == 200, (url, status, body)
            found += body[key]
            cursor = body.get("next_cursor")
            if not cursor:
                return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class MotoProcess:
    """The embedded moto (patches included) in a child process on 127.0.0.1, so that the emulator
    and the app under load do not share one interpreter lock."""

    _CODE = (
        "import sys\n"
        "from chalicelib.local.moto_server import EmbeddedMoto\n"
        "moto = EmbeddedMoto(port=int(sys.argv[1])).start()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "moto.stop()\n"
    )

    def __init__(self) -> None:
        from chalicelib.local.moto_server import free_port

        self.port = free_port("127.0.0.1")
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen([sys.executable, "-c", self._CODE, str(self.port)], cwd=ROOT,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._proc.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError("the moto child process did not start")

    def stop(self) -> None:
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=15)
        except Exception:
            self._proc.kill()
            self._proc.wait(timeout=15)
