"""``scelle local``: the whole product on one machine, with no AWS account.

Start order: lock the data directory, check the API port, start moto on loopback (on the port
of this data directory's last run, so pre-signed URLs outlive a restart) behind the redo log,
restore the last snapshot and the changes logged after it (or provision fresh), point every
client at moto, then serve the API through Chalice's local server while a stream pump and a
scheduler run beside it. Stop order (Ctrl-C or SIGTERM): stop serving, drain the streams,
snapshot, stop moto, release the lock.

Durability: every change the emulator acknowledges is in the redo log, on disk, before its answer
(``redo_log.py``), so a ``kill -9`` loses nothing that was answered. Snapshots (every 30 s, and at
stop) only compact the log; see docs/decisions/0014-durable-local-stack.md.

On a shared machine (docs/operations.md, "Local mode on a shared machine"): the data directory is
private to the account that runs the stack (0700), Cognito tokens are signed with a key of the
data directory (never moto's public one), and the ``/v1/local/*`` routes need the local operator
token drawn at each start (``<data dir>/local-operator.token``, printed in the banner).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from chalicelib.config import Settings
from chalicelib.local import snapshot
from chalicelib.local.moto_server import EmbeddedMoto, PortInUse, ensure_port_free
from chalicelib.observability import logger


class DataDirBusy(Exception):
    pass


def local_http_server():
    """chalice's threaded server listening with a backlog a till's burst fits in: socketserver's
    default of 5 reset connections when 20 sales were sent at once (AWS's gateway queues them)."""
    from chalice.local import ThreadedHTTPServer

    class LocalHttpServer(ThreadedHTTPServer):
        request_queue_size = 1024  # the kernel caps it at net.core.somaxconn

    return LocalHttpServer


@dataclass
class LocalStack:
    settings: Settings
    snapshot_every: float = 30.0
    quiet: bool = False
    # The person's terminal (chalicelib/local/terminal.py): one line per request in text format.
    terminal: Any = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        from chalicelib.local import operator_token
        from chalicelib.local.moto_patches import COGNITO_KEY_FILE

        s = self.settings
        self.data_dir = s.data_dir.resolve()
        self.warnings: list[str] = []
        self._make_data_dir_private()
        self._lock_data_dir()
        ensure_port_free(s.host, s.port, "Scellé API")
        key_dir = s.local_key_dir or self.data_dir / "keys"
        from chalicelib.local.redo_log import DurableEmulator, RedoLog

        self.redo = RedoLog(self.data_dir / "redo")
        self.durable: DurableEmulator | None = None

        def durable(app):
            # Not recording while the snapshot and the log are loaded back: that is history.
            self.durable = DurableEmulator(app, self.redo, cognito_state_file=self.data_dir / "cognito.state")
            self.durable.recording = False
            return self.durable

        self.state_file = self.data_dir / "local-state.json"
        saved = self._saved_state()
        # Cognito signs with this data directory's own key (moto's bundled one is public).
        self.moto = self._start_emulator(saved, lambda port: EmbeddedMoto(
            port=port, host="127.0.0.1", cognito_key_file=key_dir / COGNITO_KEY_FILE, durable=durable))
        self.operator_token = operator_token.issue(self.data_dir)
        settings = s.model_copy(
            update={
                "mode": "local",
                "data_dir": self.data_dir,
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
        self._prepare_downloads()
        self._serve()
        return self

    def _prepare_downloads(self) -> None:
        """The slim verifier (built if missing or stale) and the auditor guides the console offers
        at /console/downloads/ (chalicelib/local/downloads.py); a failure is a warning, not a stop."""
        from chalicelib.local import downloads

        try:
            downloads.ensure()
        except Exception as exc:  # the ledger runs without the downloads
            self.warnings.append(f"the console's downloads (slim verifier, auditor guides) could not be prepared: "
                                 f"{exc}")

    def _saved_state(self) -> dict:
        try:
            saved = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.warnings.append(f"{self.state_file} could not be read ({exc}): starting without it")
            return {}
        return saved if isinstance(saved, dict) else {}

    def _start_emulator(self, saved: dict, emulator) -> EmbeddedMoto:
        """Start the emulator on ``SCELLE_MOTO_PORT`` when set (taken: the start fails). Otherwise
        on the port this data directory's last run used (``local-state.json``), so that the
        pre-signed URLs handed out before a restart (exports, attachments) still work after it; if
        another program holds that port, on a free one, with a warning in the banner."""
        s = self.settings
        if s.moto_port:
            return emulator(s.moto_port).start()
        last = saved.get("moto_port")
        if type(last) is int and 0 < last <= 65535 and last != s.port:
            try:
                return emulator(last).start()
            except PortInUse:
                moto = emulator(0).start()
                self.warnings.append(
                    f"the AWS emulator's port {last} (this data directory's, from its last run) is in use by "
                    f"another program: the emulator now listens on {moto.port}, so the pre-signed URLs handed out "
                    "before (exports, attachments) no longer work; ask for new ones. "
                    "SCELLE_MOTO_PORT chooses the port."
                )
                return moto
        return emulator(0).start()

    def _make_data_dir_private(self) -> None:
        """Create the data directory readable by this account only (it holds every tenant's data,
        the demo passwords, the mail outbox and the keys); tighten an empty one, or one an earlier
        ``scelle local`` made. Any other directory is left as it is, with a warning in the banner."""
        existed = self.data_dir.exists()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = self.data_dir.stat().st_mode
        if not mode & 0o077:
            return
        ours = self.data_dir.stat().st_uid == os.getuid()
        scelles = not existed or not any(self.data_dir.iterdir()) or (self.data_dir / "scelle.lock").exists()
        if ours and scelles:
            self.data_dir.chmod(0o700)
        else:
            self.warnings.append(f"{self.data_dir} is readable by other accounts (mode {mode & 0o777:o}): "
                                 "consider chmod 700, or another --data-dir")

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
        self.replayed = 0
        started = time.monotonic()
        has_snapshot = (snap / "snapshot.json").exists()
        if has_snapshot or next(self.redo.records(), None) is not None:
            self.restored_counts = snapshot.restore(container.client, settings, snap if has_snapshot else None,
                                                    redo=self.redo)
            self.replayed = self.restored_counts.pop("redo", 0)
        cognito_file = self.data_dir / "cognito.state"
        if cognito_file.exists():
            cognito_state.load_cognito_state(cognito_file)
        self.recovery_seconds = time.monotonic() - started
        if self.durable is not None:
            self.durable.recording = True
        provisioned = provision(container.client, settings)
        self.settings = settings.model_copy(
            update={"user_pool_id": provisioned.user_pool_id, "user_pool_client_id": provisioned.user_pool_client_id}
        )
        self.stream_arns = provisioned.stream_arns
        self.state_file.write_text(
            json.dumps({"user_pool_id": provisioned.user_pool_id,
                        "user_pool_client_id": provisioned.user_pool_client_id,
                        # The next start listens here again (_start_emulator).
                        "moto_port": self.moto.port}, indent=1)
        )

    def _publish_settings(self) -> None:
        """Make every later ``get_settings()`` and the bootstrap container see the local values."""
        from chalicelib import bootstrap
        from chalicelib.config import get_settings

        for name in Settings.model_fields:
            value = getattr(self.settings, name)
            if isinstance(value, SecretStr):  # str() would publish the mask, "**********"
                value = value.get_secret_value()
            if value is not None:
                os.environ[f"SCELLE_{name.upper()}"] = str(value)
        get_settings.cache_clear()
        bootstrap.configure(self.settings)

    def _serve(self) -> None:
        from chalice.config import Config
        from chalice.local import LocalChalice, LocalDevServer

        from app import app
        from chalicelib.local.gateway import ProblemRequestHandler
        from chalicelib.local.pump import StreamPump
        from chalicelib.local.queue_pump import QueuePump
        from chalicelib.local.scheduler import Scheduler

        class _ThreadLocalApp(LocalChalice, app.__class__):
            pass

        # As `chalice local` does: a thread-local current_request for the threaded server.
        app.__class__ = _ThreadLocalApp
        self.app = app
        handler = ProblemRequestHandler
        if self.terminal is not None and self.terminal.text:
            handler = ProblemRequestHandler.with_request_log(self.terminal.request)
        self.http = LocalDevServer(app, Config(chalice_stage="local"), self.settings.host, self.settings.port,
                                   handler_cls=handler, server_cls=local_http_server())
        self.pump = StreamPump(
            app,
            bootstrap_client("dynamodbstreams"),
            self.stream_arns,
            self.data_dir / "pump.json",
            region=self.settings.region,
        )
        self.scheduler = Scheduler(app, region=self.settings.region, override_seconds=self.settings.schedule_seconds)
        self.queues = QueuePump(app, bootstrap_client("sqs"), self.settings, region=self.settings.region)
        self._spawn("http", self.http.server.serve_forever)
        self._spawn("pump", self._loop(self.pump.run_once, self.settings.pump_interval_seconds))
        self.first_jobs_done = threading.Event()

        def run_due() -> None:
            try:
                if self.scheduler.run_due() and not self.first_jobs_done.is_set():
                    self.queues.drain()  # the first round's units, before the banner
            finally:
                self.first_jobs_done.set()  # the banner waits for the first round's log lines

        self._spawn("scheduler", self._loop(run_due, 1.0))
        self._spawn("queues", self._loop(self.queues.run_once, 1.0))
        self._spawn("snapshot", self._loop(self.save, self.snapshot_every, first_delay=True))
        if self.replayed:
            self._spawn("catch-up", self._derive_missing_events)

    def _derive_missing_events(self) -> None:
        """After a crash, the stream records of the last writes are gone with the old streams:
        derive their events now rather than at the next hourly verification (decision 0012)."""
        from chalicelib.handlers.schedules import derive_missing_events

        try:
            derive_missing_events()
        except Exception:
            logger.exception("events could not be derived after recovery; the hourly run retries")

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
        """Snapshot tables, buckets and Cognito into the data directory, then drop the redo log's
        segments the snapshot holds. Never waits for the streams: under steady writes they are
        never drained, and durability does not depend on snapshots (the redo log has it all)."""
        from chalicelib import bootstrap
        from chalicelib.local import cognito_state

        with self.durable.writers if self.durable is not None else contextlib.nullcontext():
            boundary = self.redo.rotate()
            cognito_state.save_cognito_state(self.data_dir / "cognito.state")
        counts = snapshot.save(bootstrap.container().client, self.settings, self.data_dir / "snapshot",
                               redo_boundary=boundary)
        self.redo.drop_through(boundary)
        return counts

    def stop(self) -> None:
        self._stop.set()
        self.http.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        try:
            self.pump.drain()
            self.save()
        finally:
            self.moto.stop()
            self.redo.close()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    # ---- foreground run ----------------------------------------------------------------------
    def banner(self) -> str:
        from chalicelib.local.operator_token import token_path

        s = self.settings
        restored = sum(self.restored_counts.values())
        lines = [
            "",
            "  Scellé is running locally (embedded AWS emulator, no AWS account used).",
            f"  API            http://{s.host}:{s.port}   (health: /health, API description: /openapi.json)",
            f"  Console        http://{s.host}:{s.port}/  (web console in the browser: sign-up, till, closing)",
            f"  Downloads      http://{s.host}:{s.port}/console/downloads/scelle-verify.pyz  (the slim verifier; "
            "the auditor guides beside it)",
            f"  Data           {self.data_dir}  ({'restored ' + str(restored) + ' items' if restored else 'new'})",
            f"  AWS emulator   {self.moto.endpoint}  (loopback only)",
        ]
        lines += [f"  {line}" for line in sign_in_help(self)]
        lines.append(f"  Local operator {self.operator_token}  (Bearer token of /v1/local/*, e.g. the mail outbox; "
                     f"new at each start, kept in {token_path(self.data_dir)})")
        lines += [f"  Warning        {warning}" for warning in self.warnings]
        if self.replayed:
            lines.append(f"  Recovered      {self.replayed} changes from the redo log in {self.recovery_seconds:.1f} s "
                         "(the last run did not stop cleanly)")
        lines += [f"  This banner    press Enter to show it again (or: kill -USR1 {os.getpid()})",
                  "  Stop           Ctrl-C (every acknowledged write is on disk before its answer; "
                  f"snapshots every {int(self.snapshot_every)} s and on exit)", ""]
        return "\n".join(lines)

    def run_forever(self) -> int:
        done = threading.Event()
        show_banner = threading.Event()

        def _on_signal(signum, frame):
            done.set()

        def _on_usr1(signum, frame):
            show_banner.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGUSR1, _on_usr1)
        # Printed last, after the start-up lines (the scheduler's first round, the demo seeding
        # that banner() does), so it is what the terminal shows when the start is over.
        getattr(self, "first_jobs_done", threading.Event()).wait(timeout=10)
        banner = self.banner()
        print(banner, flush=True)
        _watch_enter(show_banner)
        while not done.wait(0.25):
            if show_banner.is_set():
                show_banner.clear()
                print(banner, flush=True)
        print("\n  Stopping: draining streams and saving data...", flush=True)
        started = time.monotonic()
        self.stop()
        print(f"  Stopped cleanly in {time.monotonic() - started:.1f} s. Data is in {self.data_dir}", flush=True)
        return 0


def _watch_enter(pressed: threading.Event) -> None:
    """Set ``pressed`` at each line typed on the terminal (Enter), when stdin is the terminal and
    this process is its foreground job. Never when stdin is a file, a pipe or /dev/null (a service
    manager, a test). A job put in the background later gets an error (SIGTTIN ignored), not a
    stop, and tries again a second later."""
    stdin = sys.stdin
    try:
        if stdin is None or not stdin.isatty() or os.tcgetpgrp(stdin.fileno()) != os.getpgrp():
            return
    except (OSError, ValueError):
        return
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)

    def watch() -> None:
        while True:
            try:
                line = stdin.readline()
            except OSError:  # EIO: in the background for now
                time.sleep(1.0)
                continue
            except ValueError:  # closed
                return
            if not line:  # Ctrl-D: no more Enter to watch
                return
            pressed.set()

    threading.Thread(target=watch, name="scelle-enter", daemon=True).start()


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
