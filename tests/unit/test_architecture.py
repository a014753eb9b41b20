"""The import rules of docs/architecture.md, checked on the code as it is (every import statement,
those inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"

# layer -> the chalicelib layers it may import (its own always). "root" is chalicelib/*.py itself
# (config, observability, receipts, resources, alarms, bootstrap, cli): named one by one below.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "ports": {"domain"},
    "verify_export": {"domain"},  # the offline verifier: stdlib + cryptography, shipped alone
    "services": {"domain", "ports", "verify_export", "config", "observability", "receipts"},
    "adapters": {"domain", "ports", "config", "observability", "resources"},
    # shared modules at the package root
    "config": {"domain"},
    "observability": {"config"},
    "resources": {"domain"},
    "receipts": {"domain"},
    "alarms": {"domain", "resources"},
}
# Entry points and wiring may import any layer.
ENTRY_POINTS = {"api", "handlers", "commands", "cli", "local", "bootstrap"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def imports_of(source: str, module: str) -> set[str]:
    """Every chalicelib module ``source`` imports (``from chalicelib import x`` is ``chalicelib.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("chalicelib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "chalicelib":
                found |= {f"chalicelib.{a.name}" for a in node.names}
            elif node.module.startswith("chalicelib"):
                found.add(node.module)
    return found


def violations(files: dict[str, str]) -> list[str]:
    """``files``: module name -> source. The imports that break ALLOWED."""
    found = []
    for module, source in sorted(files.items()):
        layer = _layer(module)
        if layer not in ALLOWED:
            continue
        for target in sorted(imports_of(source, module)):
            other = _layer(target)
            if other != layer and other not in ALLOWED[layer]:
                found.append(f"{module} imports {target} ({layer} may import {sorted(ALLOWED[layer]) or 'nothing'})")
    return found


def _tree() -> dict[str, str]:
    return {_module(p): p.read_text(encoding="utf-8") for p in ROOT.rglob("*.py")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_it_may(layer):
    assert [v for v in violations(_tree()) if v.startswith(f"chalicelib.{layer}")] == []


def test_the_checker_sees_imports_inside_functions_and_of_the_package_root():
    planted = {
        "chalicelib.services.planted": "def f():\n    from chalicelib import bootstrap\n    return bootstrap\n",
        "chalicelib.adapters.planted": "import chalicelib.services.ledger\n",
        "chalicelib.domain.planted": "from chalicelib.observability import logger\n",
        "chalicelib.ports.planted": "from chalicelib.adapters.signing import LocalSigner\n",
    }
    assert len(violations(planted)) == 4


def test_no_module_is_left_in_a_layer_the_rules_do_not_know():
    layers = {_layer(m) for m in _tree()}
    assert layers <= set(ALLOWED) | ENTRY_POINTS | {"root"}, layers
