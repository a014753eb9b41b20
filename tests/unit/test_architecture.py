"""The import rules of docs/architecture.md, checked on the code as it is (every import statement,
those inside functions included)."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
# The offline verifier's own distribution (verifier/): everything `scelle verify` runs, which
# chalicelib reuses through module aliases (docs/architecture.md).
SLIM = Path(__file__).resolve().parents[2] / "verifier" / "scelle_verify"
# What the slim package may import besides the standard library and itself: cryptography (a hard
# dependency, the only one) and orjson (optional: a speed-up, guarded by ImportError).
SLIM_THIRD_PARTY = {"cryptography", "orjson"}
SLIM_FORBIDDEN = {"chalicelib", "app", "boto3", "botocore", "chalice", "pydantic", "moto"}

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
    "console_policy": set(),  # the web console's URL map and headers: pure data (local gateway, CDK)
}
# Entry points and wiring may import any layer (``wiring``: the Service marker and ``inject``).
ENTRY_POINTS = {"api", "handlers", "commands", "cli", "local", "bootstrap", "wiring"}


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


# ---- the slim verifier package (verifier/scelle_verify) ------------------------------------------
def top_level_imports(source: str) -> set[str]:
    """The top-level names of every module ``source`` imports (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("scelle_verify")  # a relative import stays inside the package
    return found


def slim_violations(files: dict[str, str]) -> list[str]:
    """``files``: module name -> source, of the slim package. Imports outside the standard library,
    the package itself, cryptography and orjson; and any import of scelle_verify's export layer
    from ``scelle_verify.domain`` (pure rules import only pure rules)."""
    found = []
    allowed = set(sys.stdlib_module_names) | SLIM_THIRD_PARTY | {"scelle_verify", "__future__"}
    for module, source in sorted(files.items()):
        for name in sorted(top_level_imports(source)):
            if name in SLIM_FORBIDDEN or name not in allowed:
                found.append(f"{module} imports {name}")
        if module.startswith("scelle_verify.domain"):
            for target in sorted(_slim_imports(source)):
                if not target.startswith("scelle_verify.domain"):
                    found.append(f"{module} imports {target} (scelle_verify.domain imports only itself)")
    return found


def _slim_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("scelle_verify")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scelle_verify"):
            found |= ({f"{node.module}.{a.name}" for a in node.names} if node.module == "scelle_verify"
                      else {node.module})
    return found


def _slim_tree() -> dict[str, str]:
    def name(path: Path) -> str:
        parts = path.relative_to(SLIM.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    return {name(p): p.read_text(encoding="utf-8") for p in SLIM.rglob("*.py")}


def test_the_slim_verifier_imports_only_the_standard_library_cryptography_and_orjson():
    tree = _slim_tree()
    assert "scelle_verify.verifier" in tree and "scelle_verify.domain.records" in tree
    assert slim_violations(tree) == []


def test_the_slim_checker_sees_forbidden_imports_anywhere():
    planted = {
        "scelle_verify.planted": "def f():\n    from chalicelib.domain import records\n    return records\n",
        "scelle_verify.boto": "import boto3.session\n",
        "scelle_verify.web": "try:\n    import pydantic\nexcept ImportError:\n    pass\n",
        "scelle_verify.domain.planted": "from scelle_verify import format as fmt\n",
        "scelle_verify.chalice": "from chalice import Chalice\n",
    }
    assert len(slim_violations(planted)) == 5
    assert slim_violations({"scelle_verify.ok": "import hashlib\nimport orjson\nfrom cryptography import x509\n"}) == []


def test_the_slim_distribution_declares_cryptography_alone():
    import tomllib

    project = tomllib.loads((SLIM.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "scelle-verify"
    assert project["scripts"]["scelle-verify"] == "scelle_verify.cli:main"
    assert [dep.split(">")[0] for dep in project["dependencies"]] == ["cryptography"]


def _aliases() -> dict[str, str]:
    """chalicelib module -> the scelle_verify module it is (its file is an alias, nothing else)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "become(__name__, " in source:
            tree = ast.parse(source)
            (target,) = [f"{n.module}.{n.names[0].name}" for n in ast.walk(tree)
                         if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("scelle_verify")]
            found[_module(path)] = target
    return found


def test_chalicelib_reuses_the_slim_modules_instead_of_copying_them():
    aliases = _aliases()
    assert {"chalicelib.domain.records", "chalicelib.domain.canonical", "chalicelib.ports.signatures",
            "chalicelib.verify_export.verifier", "chalicelib.verify_export.format"} <= set(aliases)
    slim = _slim_tree()
    for module, target in aliases.items():
        assert importlib.import_module(module) is importlib.import_module(target), module
        # an alias holds no code of its own: imports, its docstring and the ``become`` call
        body = [n for n in ast.parse((ROOT.parent / (module.replace(".", "/") + ".py")).read_text()).body
                if not isinstance(n, ast.Import | ast.ImportFrom | ast.Expr)]
        assert body == [], module
    # and no module of chalicelib defines again a module of the slim package under the same name
    twins = {"chalicelib.domain.": "scelle_verify.domain.", "chalicelib.verify_export.": "scelle_verify.",
             "chalicelib.ports.signatures": "scelle_verify.signatures"}
    for path in ROOT.rglob("*.py"):
        module = _module(path)
        for prefix, slim_prefix in twins.items():
            twin = slim_prefix + module.removeprefix(prefix) if module.startswith(prefix) else None
            if twin in slim and module not in aliases:
                pytest.fail(f"{module} duplicates {twin}: make it an alias")


# ---- the composition root (decision 0029) ---------------------------------------------------------
# Entry points declare what they use (``ledger=Service("ledger")``); they never fetch it. From
# bootstrap they may only build a root of their own (a command on a stack it starts or a stage it
# names); ``api/routing.py`` resolves the declarations, so it alone reads ``bootstrap.container()``.
DECLARING = ("api", "handlers", "commands")
ROOT_API = {"Container", "configure"}
RESOLVER = {"chalicelib.api.routing": {"container"}}


def locator_calls(files: dict[str, str]) -> list[str]:
    """``files``: module name -> source. Each ``bootstrap.<name>(...)`` call, or import of a name
    from ``chalicelib.bootstrap``, in an entry point, other than the root's API."""
    found = []
    for module, source in sorted(files.items()):
        if _layer(module) not in DECLARING:
            continue
        allowed = ROOT_API | RESOLVER.get(module, set())
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "bootstrap"
                    and node.func.attr not in allowed):
                found.append(f"{module}:{node.lineno} calls bootstrap.{node.func.attr}(): declare a Service instead")
            elif isinstance(node, ast.ImportFrom) and node.module == "chalicelib.bootstrap":
                found += [f"{module}:{node.lineno} imports bootstrap.{a.name}" for a in node.names
                          if a.name not in allowed]
    return found


def service_names(files: dict[str, str]) -> dict[str, str]:
    """Every ``Service("<name>")`` of the tree: ``"module:line" -> name`` (a non-literal name is
    listed as ``<not a literal>``, which no Container attribute is)."""
    found = {}
    for module, source in sorted(files.items()):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Service":
                arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                found[f"{module}:{node.lineno}"] = arg.value if literal else "<not a literal>"
    return found


def test_entry_points_declare_their_services_instead_of_fetching_them():
    assert locator_calls(_tree()) == []


def test_the_locator_checker_sees_calls_and_imports_but_not_the_roots_api():
    planted = {
        "chalicelib.api.planted": "from chalicelib import bootstrap\ndef f():\n    return bootstrap.ledger()\n",
        "chalicelib.handlers.planted": "def f():\n    from chalicelib import bootstrap\n"
                                       "    return bootstrap.container().ledger\n",
        "chalicelib.commands.planted": "from chalicelib.bootstrap import ledger\n",
        "chalicelib.commands.ok": "def f(s):\n    from chalicelib import bootstrap\n"
                                  "    return bootstrap.Container(s), bootstrap.configure(s)\n",
        "chalicelib.local.ok": "def f():\n    from chalicelib import bootstrap\n    return bootstrap.container()\n",
    }
    assert len(locator_calls(planted)) == 3


def test_every_declared_service_is_an_attribute_of_the_container():
    from chalicelib.bootstrap import Container

    names = service_names(_tree())
    assert len(names) > 50 and "ledger" in names.values()  # the scan sees the declarations
    # ``settings`` is set by the constructor; everything else is a (cached) property or method
    unknown = {where: name for where, name in names.items() if not (hasattr(Container, name) or name == "settings")}
    assert unknown == {}


# One process for every alias: thread A imports the alias while the import of its scelle_verify
# module is held back; thread B runs ``from <alias> import <a name of that module>`` and waits for A
# (CPython's C import path calls ``_lock_unlock_module``: the hook says B is waiting); then A goes on.
# B starts once A is held, the alias in ``sys.modules`` (before, B would wait on the import lock and
# then look ``sys.modules`` up again: no race).
_RACE = r'''
import importlib, importlib._bootstrap as bootstrap, importlib.abc, json, sys, threading
cases = json.loads(sys.argv[1])
held, hold = {}, threading.Event()
holding, waiting = threading.Event(), threading.Event()

class HoldBack(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname in held:
            holding.set()
            hold.wait(10)
        return None

unlock = bootstrap._lock_unlock_module
def watched(name):
    if name in held.values():
        waiting.set()
    return unlock(name)
bootstrap._lock_unlock_module = watched
sys.meta_path.insert(0, HoldBack())
failures = []
for alias, real, name in cases:
    for module in (alias, real):  # imported afresh, even when an earlier case imported it
        parent, _, child = module.rpartition(".")
        sys.modules.pop(module, None)
        if hasattr(importlib.import_module(parent), child):
            delattr(sys.modules[parent], child)
    held.clear(); held[real] = alias; hold.clear(); holding.clear(); waiting.clear()
    got = {}
    def first():
        importlib.import_module(alias)
    def second():
        scope = {}
        try:
            exec(f"from {alias} import {name}", scope)
            got["value"] = scope[name]
        except ImportError as exc:
            got["error"] = str(exc)
    a = threading.Thread(target=first); a.start()
    holding.wait(10)  # the alias is in sys.modules, its import not done
    b = threading.Thread(target=second); b.start()
    raced = waiting.wait(10)
    hold.set(); a.join(); b.join()
    if not raced:
        failures.append(f"{alias}: the second import did not wait for the first")
    elif "error" in got:
        failures.append(f"{alias}: {got['error']}")
    elif got["value"] is not getattr(sys.modules[real], name):
        failures.append(f"{alias}: {name} is not the module's")
print(json.dumps(failures))
'''


def test_an_alias_imported_by_two_threads_at_once_gives_both_the_module():
    """A scheduled job of `make run` failed with "cannot import name 'canonical_bytes' from
    'chalicelib.domain.canonical'": it imported lazily while another thread was importing the alias,
    and was left holding the alias's own module object (``chalicelib/domain/moved.py``)."""
    import json
    import subprocess
    import sys

    cases = []
    for module, target in sorted(_aliases().items()):
        real_path = SLIM.parent / (target.replace(".", "/") + ".py")
        tree = ast.parse(real_path.read_text(encoding="utf-8"))
        name = next(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
                    and not n.name.startswith("_"))
        cases.append((module, target, name))
    assert len(cases) >= 20
    run = subprocess.run([sys.executable, "-c", _RACE, json.dumps(cases)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT.parent)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []
