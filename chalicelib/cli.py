"""The ``scelle`` command: run the product locally and work with its data.

Each subcommand imports what it needs only when it runs, so ``scelle verify`` on an auditor's
laptop never loads the AWS stack.
"""

from __future__ import annotations

import argparse
import math
import sys


def _cmd_local(args: argparse.Namespace) -> int:
    from chalicelib.config import load_settings

    # Every SCELLE_* variable is checked before anything starts (ConfigError: see main).
    settings = load_settings()
    overrides = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.schedule_seconds is not None:
        overrides["schedule_seconds"] = args.schedule_seconds
    if args.log_format is not None:
        overrides["log_format"] = args.log_format
    if args.metrics:
        overrides["local_metrics"] = True
    settings = settings.model_copy(update=overrides)
    from chalicelib.local.terminal import Terminal

    # Before anything starts, so that the start-up lines are in the chosen format too. No
    # CloudWatch on a laptop: metric blobs only with --metrics / SCELLE_LOCAL_METRICS.
    terminal = Terminal(log_format=settings.log_format, metrics=settings.local_metrics).install()
    from chalicelib.services.support import support_config_from_env

    support_config_from_env(mail_from=settings.mail_from, local=True)  # SCELLE_SUPPORT_*, SCELLE_MAILING_RATE
    if settings.unsubscribe_key is not None:  # else a key file in the data directory
        from chalicelib.adapters.support_dynamodb import load_unsubscribe_key

        load_unsubscribe_key(settings.unsubscribe_key.get_secret_value(), None)

    from chalicelib.local.moto_patches import UnsafeCognito
    from chalicelib.local.moto_server import PortInUse
    from chalicelib.local.stack import DataDirBusy, LocalStack

    try:
        stack = LocalStack(settings, snapshot_every=args.snapshot_seconds, terminal=terminal).start()
    except (PortInUse, DataDirBusy, UnsafeCognito) as exc:
        print(f"scelle local: {exc}", file=sys.stderr)
        return 2
    return stack.run_forever()


def _setting(name: str):
    """An argparse type: the option's text read as the setting ``name`` (same rules and message
    as its SCELLE_* variable)."""

    def parse(text: str):
        from chalicelib.config import setting_value

        try:
            return setting_value(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid: {exc}") from None

    parse.__name__ = name
    return parse


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: expected a number of seconds, more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scelle", description="Scellé sealed ledger")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="run the whole product on this machine (embedded AWS emulator)")
    local.add_argument("--port", type=_setting("port"), help="API port (default SCELLE_PORT or 8000)")
    local.add_argument("--data-dir", type=_setting("data_dir"),
                       help="where data persists (default SCELLE_DATA_DIR or .scelle)")
    local.add_argument("--schedule-seconds", type=_setting("schedule_seconds"),
                       help="run scheduled jobs this often (demo)")
    local.add_argument("--snapshot-seconds", type=_positive_seconds, default=30.0,
                       help="save data this often (default 30)")
    local.add_argument("--log-format", type=_setting("log_format"), metavar="{text,json}",
                       help="text: one short line per request, for people (default); json: Powertools' JSON "
                            "lines, as on Lambda (default SCELLE_LOG_FORMAT or text)")
    local.add_argument("--metrics", action="store_true",
                       help="also show the CloudWatch metrics (EMF) that each request and job records "
                            "(default SCELLE_LOCAL_METRICS or off)")
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
    try:
        return args.func(args)
    except Exception as exc:
        # A bad SCELLE_* variable, in any subcommand: one line per variable, no traceback. The
        # config module is looked up, not imported: `scelle verify` never loads it.
        config = sys.modules.get("chalicelib.config")
        if config is None or not isinstance(exc, config.ConfigError):
            raise
        for line in str(exc).splitlines():
            print(f"scelle {args.command}: {line.strip()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
