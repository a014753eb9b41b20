"""``scelle local``: the whole product on one machine, with no AWS account.

Start order: lock the data directory, check the API port, start moto on loopback, restore the
last snapshot (or provision fresh), point every client at moto, then serve the API through
Chalice's local server while a stream pump and a scheduler run beside it. Stop order (Ctrl-C or
SIGTERM): stop serving, drain the streams, snapshot, stop moto, release the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from chalicelib.config import Settings
from chalicelib.local import snapshot
from chalicelib.local.moto_server import EmbeddedMoto, ensure_port_free
from chalicelib.observability import logger


class DataDirBusy(Exception):
    pass


@dataclass
class LocalStack:
    settings: Settings
    snapshot_every: float = 30.0
    quiet: bool = False
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        s = self.settings
        self.data_dir = s.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        ensure_port_free(s.host, s.port, "Scellé API")
        self.moto = EmbeddedMoto(port=s.moto_port, host="127.0.0.1").start()
        self.state_file = self.data_dir / "local-state.json"
        saved = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        key_dir = s.local_key_dir or self.data_dir / "keys"
        settings = s.model_copy(
            update={
                "mode": "local",
                "aws_endpoint_url": self.moto.endpoint,
                "local_key_dir": key_dir,
                "signing_key_id": s.signing_key_id or "local:signing",
                "data_key_id": s.data_key_id or "local:data",
                "user_pool_id": saved.get("user_pool_id"),
                "user_pool_client_id": saved.get("user_pool_client_id"),
                "public_base_url": f"http://{s.host}:{s.port}",
                # The product's own email verification needs the captured mail to be readable.
                "expose_outbox": s.expose_outbox or "SCELLE_EXPOSE_OUTBOX" not in os.environ,
            }
        )
        self._restore_or_provision(settings)
        self._publish_settings()
        self._serve()
        return self

    def _lock_data_dir(self) -> None:
        self._lock_file = open(self.data_dir / "scelle.lock", "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            owner = self._lock_file.read().strip() or "unknown"
            raise DataDirBusy(
                f"{self.data_dir} is in use by another `scelle local` (pid {owner}). "
                "Stop it first, or use another data directory with SCELLE_DATA_DIR / --data-dir."
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def _restore_or_provision(self, settings: Settings) -> None:
        from chalicelib import bootstrap
        from chalicelib.local import cognito_state
        from chalicelib.local.provision import provision

        container = bootstrap.Container(settings)
        snap = self.data_dir / "snapshot"
        self.restored_counts: dict[str, int] = {}
        if (snap / "snapshot.json").exists():
            self.restored_counts = snapshot.restore(container.client, settings, snap)
        cognito_file = self.data_dir / "cognito.state"
        if cognito_file.exists():
            cognito_state.load_cognito_state(cognito_file)
        provisioned = provision(container.client, settings)
        self.settings = settings.model_copy(
            update={"user_pool_id": provisioned.user_pool_id, "user_pool_client_id": provisioned.user_pool_client_id}
        )
        self.stream_arns = provisioned.stream_arns
        self.state_file.write_text(
            json.dumps({"user_pool_id": provisioned.user_pool_id,
                        "user_pool_client_id": provisioned.user_pool_client_id}, indent=1)
        )

    def _publish_settings(self) -> None:
        """Make every later ``get_settings()`` and the bootstrap container see the local values."""
        from chalicelib import bootstrap
        from chalicelib.config import get_settings

        for name in Settings.model_fields:
            value = getattr(self.settings, name)
            if value is not None:
                os.environ[f"SCELLE_{name.upper()}"] = str(value)
        get_settings.cache_clear()
        bootstrap.configure(self.settings)

    def _serve(self) -> None:
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, LocalChalice, LocalDevServer

        from app import app
        from chalicelib.local.gateway import ProblemLocalGateway
        from chalicelib.local.pump import StreamPump
        from chalicelib.local.scheduler import Scheduler

        class _Handler(ChaliceRequestHandler):
            def __init__(self, request, client_address, server, app_object, config):
                self.local_gateway = ProblemLocalGateway(app_object, config)
                super(ChaliceRequestHandler, self).__init__(request, client_address, server)

            def log_message(self, format, *args):  # the app logs one structured line per request
                pass

        class _ThreadLocalApp(LocalChalice, app.__class__):
            pass

        # As `chalice local` does: a thread-local current_request for the threaded server.
        app.__class__ = _ThreadLocalApp
        self.app = app
        self.http = LocalDevServer(app, Config(chalice_stage="local"), self.settings.host, self.settings.port,
                                   handler_cls=_Handler)
        self.pump = StreamPump(
            app,
            bootstrap_client("dynamodbstreams"),
            self.stream_arns,
            self.data_dir / "pump.json",
            region=self.settings.region,
        )
        self.scheduler = Scheduler(app, region=self.settings.region, override_seconds=self.settings.schedule_seconds)
        self._spawn("http", self.http.server.serve_forever)
        self._spawn("pump", self._loop(self.pump.run_once, self.settings.pump_interval_seconds))
        self._spawn("scheduler", self._loop(self.scheduler.run_due, 1.0))
        self._spawn("snapshot", self._loop(self.save, self.snapshot_every, first_delay=True))

    def _spawn(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=f"scelle-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _loop(self, fn, every: float, first_delay: bool = False):
        def run() -> None:
            if first_delay and self._stop.wait(every):
                return
            while not self._stop.is_set():
                try:
                    fn()
                except Exception:
                    logger.exception("local stack task failed", extra={"task": getattr(fn, "__name__", "?")})
                self._stop.wait(every)

        return run

    def save(self) -> dict[str, int]:
        """Drain the streams, then snapshot tables, buckets and Cognito into the data directory."""
        from chalicelib import bootstrap
        from chalicelib.local import cognito_state

        self.pump.drain()
        counts = snapshot.save(bootstrap.container().client, self.settings, self.data_dir / "snapshot")
        cognito_state.save_cognito_state(self.data_dir / "cognito.state")
        return counts

    def stop(self) -> None:
        self._stop.set()
        self.http.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        try:
            self.save()
        finally:
            self.moto.stop()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    # ---- foreground run ----------------------------------------------------------------------
    def banner(self) -> str:
        s = self.settings
        restored = sum(self.restored_counts.values())
        lines = [
            "",
            "  Scellé is running locally (embedded AWS emulator, no AWS account used).",
            f"  API            http://{s.host}:{s.port}   (health: /health, API description: /openapi.json)",
            f"  Data           {self.data_dir}  ({'restored ' + str(restored) + ' items' if restored else 'new'})",
            f"  AWS emulator   {self.moto.endpoint}  (loopback only)",
        ]
        lines += [f"  {line}" for line in sign_in_help(self)]
        lines += ["  Stop           Ctrl-C (data is saved on exit and every "
                  f"{int(self.snapshot_every)} s)", ""]
        return "\n".join(lines)

    def run_forever(self) -> int:
        done = threading.Event()

        def _on_signal(signum, frame):
            done.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        print(self.banner(), flush=True)
        while not done.wait(0.5):
            pass
        print("\n  Stopping: draining streams and saving data...", flush=True)
        started = time.monotonic()
        self.stop()
        print(f"  Stopped cleanly in {time.monotonic() - started:.1f} s. Data is in {self.data_dir}", flush=True)
        return 0


def bootstrap_client(service: str):
    from chalicelib import bootstrap

    return bootstrap.container().client(service)


def sign_in_help(stack: LocalStack) -> list[str]:
    """How to sign in; the demo seeding module adds a ready demo account when present."""
    try:
        from chalicelib.local.demo import ensure_demo_account
    except ImportError:
        return ["Sign up      POST /v1/signup (see README)"]
    return ensure_demo_account(stack)
