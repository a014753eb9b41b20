"""``chalice package`` in a child process, with the environment the functions have on AWS.

Run as ``python -m infra.stacks.packaging PROJECT_DIR OUTPUT_DIR STAGE CONFIG_JSON``. Writes
``sam.json`` and ``deployment.zip`` (Chalice) and ``functions.json`` (one ``FunctionSpec`` per
function) into OUTPUT_DIR.

Why a child process: the app registers handlers by environment at import (``SCELLE_MODE=aws``
drops the local-only ones) and Chalice imports ``app.py`` only once per process; the CDK process
has neither the Lambda environment nor a fresh module cache.

What is packaged is a copy of the project (``copy_project``): ``chalice package`` takes only
``app.py``, ``chalicelib/``, ``vendor/`` and the wheels of ``requirements.txt``, and ``chalicelib``
reuses the offline verifier's package, which lives in ``verifier/scelle_verify`` (a distribution of
its own, not on PyPI): the copy carries it as ``vendor/scelle_verify``, which Chalice puts at the
root of the Lambda zip, next to ``chalicelib``.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

VENDOR_KEY = "__scelle_vendor_dependencies__"


SLIM_PACKAGE = Path("verifier", "scelle_verify")  # the offline verifier's package, which chalicelib reuses
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "venv")


def copy_project(source: Path, dest: Path, *, requirements: bool = True) -> Path:
    """What ``chalice package`` packages, in ``dest``: ``app.py``, ``chalicelib/``, ``.chalice/``
    (its wheel cache too when ``requirements``), ``vendor/``, ``requirements.txt`` when
    ``requirements`` (without it: same SAM template, no wheel download, for tests and offline
    synth), and ``verifier/scelle_verify`` as ``vendor/scelle_verify``."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(source / "app.py", dest / "app.py")
    if requirements and (source / "requirements.txt").is_file():
        shutil.copy2(source / "requirements.txt", dest / "requirements.txt")
    ignore = _IGNORE if requirements else shutil.ignore_patterns("__pycache__", "*.pyc", "venv", "deployments")
    for sub in ("chalicelib", ".chalice", "vendor"):
        if (source / sub).is_dir():
            shutil.copytree(source / sub, dest / sub, ignore=ignore)
    if (source / SLIM_PACKAGE).is_dir():
        shutil.copytree(source / SLIM_PACKAGE, dest / "vendor" / SLIM_PACKAGE.name, ignore=_IGNORE)
    return dest


def copy_without_requirements(source: Path, dest: Path) -> Path:
    """The project minus requirements.txt: same SAM template, no wheel download (tests, offline)."""
    return copy_project(source, dest, requirements=False)


def _keep_wheel_cache(copy: Path, project: Path) -> None:
    """Chalice caches the downloaded wheels under ``.chalice/deployments``: keep what it added in
    the copy for the project's next packaging."""
    cache = copy / ".chalice" / "deployments"
    if cache.is_dir():
        shutil.copytree(cache, project / ".chalice" / "deployments", dirs_exist_ok=True)


def main(argv: list[str]) -> None:
    project_dir, output_dir, stage, config_file = argv
    config = json.loads(Path(config_file).read_text())
    source = Path(project_dir)
    vendored = config.pop(VENDOR_KEY, True)
    project = copy_project(source, Path(output_dir + "-src"), requirements=vendored)

    from chalice import api

    from infra.stacks.app_model import functions, load_app

    api.package_app(project_dir=str(project), output_dir=output_dir, stage=stage, chalice_config=config)
    if vendored:
        _keep_wheel_cache(project, source)
    specs = [asdict(spec) for spec in functions(load_app(str(project)))]  # the module package_app imported
    (Path(output_dir) / "functions.json").write_text(json.dumps(specs, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
