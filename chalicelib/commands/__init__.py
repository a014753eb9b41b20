"""Registrars of the ``scelle`` subcommands that feature modules add (kept apart from cli.py so
each feature adds one line here, not edits to the parser)."""

from __future__ import annotations

REGISTRARS: list = []


def _restore_drill(subparsers) -> None:  # `scelle restore-drill`, `scelle backup`
    from chalicelib.commands.restore_drill import register_cli

    register_cli(subparsers)


REGISTRARS.append(_restore_drill)


def _support_mail(subparsers) -> None:  # `scelle support-mail FILE.eml` (local mode)
    from chalicelib.handlers.support import register_cli

    register_cli(subparsers)


REGISTRARS.append(_support_mail)


def _verify_export(subparsers) -> None:  # `scelle verify EXPORT.zip` (offline: stdlib + cryptography only)
    from chalicelib.verify_export.cli import register

    register(subparsers)


def _export_sample(subparsers) -> None:  # `scelle export-sample OUT.zip`
    from chalicelib.commands.export_sample import register_cli

    register_cli(subparsers)


REGISTRARS.append(_verify_export)
REGISTRARS.append(_export_sample)


def _operator(subparsers) -> None:  # `scelle operator add EMAIL`, `scelle operator list`
    from chalicelib.commands.operators import register_cli

    register_cli(subparsers)


REGISTRARS.append(_operator)
