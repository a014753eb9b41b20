"""Scellé export archives: their layout (``format``) and the offline verifier (``verifier``).

The code lives in the ``scelle_verify`` package (verifier/, a distribution of its own that imports
only the standard library and ``cryptography``, so that ``scelle verify EXPORT.zip`` runs on an
auditor's laptop with no AWS account and no server). ``chalicelib.verify_export.format``,
``.verifier``, ``.completeness``, ``.witness`` and ``.cli`` are those very modules. The export
builder (``chalicelib.services.exports``) writes archives with the same ``format`` module the
verifier reads them with, so the two cannot drift. This package keeps the copies of ``docs/``
that every archive carries (``docs/``, package data; ``make archive-docs``).

``verify_archive``, ``Report`` and ``Finding`` are loaded on first use: importing the layout
(as the API does) does not load the verifier and ``cryptography``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scelle_verify import __getattr__  # noqa: F401 - loads verify_archive, Report and Finding on first use

__all__ = ["Finding", "Report", "verify_archive"]

if TYPE_CHECKING:
    from scelle_verify.verifier import Finding, Report, verify_archive
