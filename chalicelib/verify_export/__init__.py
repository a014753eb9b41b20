"""Scellé export archives: their layout (``format``) and the offline verifier (``verifier``).

Everything in this package imports only the standard library, ``cryptography`` and
``chalicelib.domain`` — never boto3, moto or Chalice — so that ``scelle verify EXPORT.zip`` runs
on an auditor's laptop with no AWS account and no server. The export builder
(``chalicelib.services.exports``) writes archives with the same ``format`` module the verifier
reads them with, so the two cannot drift.
"""

from __future__ import annotations

from chalicelib.verify_export.verifier import Finding, Report, verify_archive

__all__ = ["Finding", "Report", "verify_archive"]
