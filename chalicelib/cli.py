"""The ``scelle`` command: run the product locally and work with its data.

Each subcommand imports what it needs only when it runs, so ``scelle verify`` on an auditor's
laptop never loads the AWS stack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_local(args: argparse.Namespace) -> int:
    import os

    # No CloudWatch on a laptop: EMF metric blobs would only clutter the terminal. Set
    # POWERTOOLS_METRICS_DISABLED=false to see them.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from chalicelib.config import ConfigError, load_settings
    from chalicelib.local.moto_patches import UnsafeCognito
    from chalicelib.local.moto_server import PortInUse
    from chalicelib.local.stack import DataDirBusy, LocalStack

    try:
        settings = load_settings()
        overrides = {}
        if args.port is not None:
            overrides["port"] = args.port
        if args.data_dir is not None:
            overrides["data_dir"] = args.data_dir
        if args.schedule_seconds is not None:
            overrides["schedule_seconds"] = args.schedule_seconds
        settings = settings.model_copy(update=overrides)
        stack = LocalStack(settings, snapshot_every=args.snapshot_seconds).start()
    except (ConfigError, PortInUse, DataDirBusy, UnsafeCognito) as exc:
        print(f"scelle local: {exc}", file=sys.stderr)
        return 2
    return stack.run_forever()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scelle", description="Scellé sealed ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run the whole product on this machine (embedded AWS emulator)")
    local.add_argument("--port", type=int, help="API port (default SCELLE_PORT or 8000)")
    local.add_argument("--data-dir", type=Path, help="where data persists (default SCELLE_DATA_DIR or .scelle)")
    local.add_argument("--schedule-seconds", type=float, help="run scheduled jobs this often (demo)")
    local.add_argument("--snapshot-seconds", type=float, default=30.0, help="save data this often (default 30)")
    local.set_defaults(func=_cmd_local)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    """Subcommands contributed by feature modules (verify, export-sample, restore-drill...)."""
    from chalicelib import commands

    return commands.REGISTRARS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
