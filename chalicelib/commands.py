"""Registrars of the ``scelle`` subcommands that feature modules add (kept apart from cli.py so
each feature adds one line here, not edits to the parser)."""

from __future__ import annotations

REGISTRARS: list = []
