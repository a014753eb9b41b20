"""scelle-verify: the offline verifier of Scellé's fiscal export archives (``scelle-verify
EXPORT.zip``, also ``scelle verify`` and ``python3 scelle-verify.pyz``).

A distribution of its own (``verifier/pyproject.toml``), needing only the standard library and
``cryptography`` (``orjson``, when installed, only makes it faster), so that an auditor can run it
with no AWS account, no server and nothing else of Scellé. It holds everything the verifier uses:

* ``scelle_verify.domain``: the pure rules of the ledger it recomputes (canonical JSON, sealed
  records and their hash, Merkle trees, checkpoints, chain verification, closures, the FEC, VAT
  rates, company identifiers, the witness's cosignatures);
* ``scelle_verify.signatures``: checking a signature against published public keys;
* ``format`` (the archive's layout, shared with the builder), ``verifier``, ``completeness``,
  ``witness``, ``worker`` and ``cli``.

The main package (``chalicelib``) reuses these modules rather than copying them: its old module
paths (``chalicelib.domain.canonical``, ``chalicelib.verify_export.format``…) are the very same
module objects (docs/architecture.md). Nothing here imports ``chalicelib``, boto3, botocore,
Chalice, pydantic or moto (``tests/unit/test_architecture.py``).

Importing this package is cheap: ``verify_archive``, ``Report`` and ``Finding`` load the verifier
(and ``cryptography``) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Finding", "Report", "verify_archive"]

if TYPE_CHECKING:
    from scelle_verify.verifier import Finding, Report, verify_archive


def __getattr__(name: str) -> Any:
    if name in __all__:
        from scelle_verify import verifier

        return getattr(verifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
