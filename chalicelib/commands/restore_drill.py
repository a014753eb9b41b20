"""``scelle restore-drill`` and ``scelle backup`` (docs/operations.md): the command line of
``services/restore_drill.py`` and of the backup service, on the stage the ``SCELLE_*`` settings
point at."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from chalicelib.wiring import Service, inject


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@inject
def _cmd_restore_drill(args: argparse.Namespace, *, restore_drill=Service("restore_drill")) -> int:
    from chalicelib.domain.errors import ScelleError
    from chalicelib.local.terminal import Progress, command_terminal

    bar: list[Progress] = []

    def on_chain(done: int, total: int, name: str) -> None:
        if not bar:  # the number of chains is known once the table is restored
            bar.append(Progress("restore-drill", total))
        bar[0].update(done, name)

    # A progress bar on stderr when it is a terminal, nothing otherwise; stdout holds the report.
    with command_terminal():
        try:
            report = restore_drill.run(
                source=args.source, at=_parse_time(args.at) if args.at else None, backup_arn=args.backup_arn,
                tenants=args.tenant or None, keep=args.keep, on_chain=on_chain,
            )
        except ScelleError as exc:
            print(f"scelle restore-drill: {exc.detail}", file=sys.stderr)
            return 2
        finally:
            if bar:
                bar[0].close()
    print(json.dumps(report.to_dict(), indent=1, default=str) if args.json else report.to_text())
    return 0 if report.ok else 1


@inject
def _cmd_backup(args: argparse.Namespace, *, backups=Service("backups")) -> int:
    for logical in args.table or ["journal", "events", "checkpoints"]:
        print(f"{logical}: {backups.create(logical)}")
    return 0


def register_cli(subparsers) -> None:
    drill = subparsers.add_parser(
        "restore-drill",
        help="restore the journal into a new table, verify every chain, compare with the archive and checkpoints",
    )
    drill.add_argument("--source", choices=("pitr", "backup", "archive"), default="pitr",
                       help="point-in-time recovery (default), the latest on-demand backup, or the S3 archive")
    drill.add_argument("--at", help="PITR restore time (ISO 8601, AWS only; the emulator ignores restore times)")
    drill.add_argument("--backup-arn", help="backup to restore (default: the journal's latest on-demand backup)")
    drill.add_argument("--tenant", action="append", help="only these tenants' chains (repeatable)")
    drill.add_argument("--keep", action="store_true", help="keep the drill table for inspection")
    drill.add_argument("--json", action="store_true", help="print the report as JSON")
    drill.set_defaults(func=_cmd_restore_drill)

    backup = subparsers.add_parser("backup", help="start on-demand backups of the ledger tables")
    backup.add_argument("--table", action="append", choices=("journal", "events", "checkpoints", "accounts", "ops"),
                        help="table to back up (repeatable; default journal, events and checkpoints)")
    backup.set_defaults(func=_cmd_backup)
