"""Modules moved to the offline verifier's own distribution (``scelle_verify``, verifier/) and kept
under their old names: ``chalicelib.domain.records`` *is* ``scelle_verify.domain.records``, its
private names and monkeypatching included (docs/architecture.md)."""

from __future__ import annotations

import sys
from types import ModuleType


def become(name: str, module: ModuleType) -> None:
    """Make the module being imported as ``name`` the very ``module``: imports that start after this
    one get ``module`` from ``sys.modules``. A thread whose import found ``name`` while it was still
    being imported waits for it, then keeps the object it found — the alias's own (CPython's
    ``from … import`` does not look ``sys.modules`` up again): that object answers every name
    ``module`` has, so such an import gets the same names instead of failing with "cannot import
    name" (a scheduled job of `make run` did, importing lazily while another thread imported)."""
    alias = sys.modules[name]
    alias.__getattr__ = lambda attribute: getattr(module, attribute)  # type: ignore[method-assign]
    sys.modules[name] = module
