"""``chalice package`` in a child process, with the environment the functions have on AWS.

Run as ``python -m infra.stacks.packaging PROJECT_DIR OUTPUT_DIR STAGE CONFIG_JSON``. Writes
``sam.json`` and ``deployment.zip`` (Chalice) and ``functions.json`` (one ``FunctionSpec`` per
function) into OUTPUT_DIR.

Why a child process: the app registers handlers by environment at import (``SCELLE_MODE=aws``
drops the local-only ones) and Chalice imports ``app.py`` only once per process; the CDK process
has neither the Lambda environment nor a fresh module cache.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

VENDOR_KEY = "__scelle_vendor_dependencies__"


def copy_without_requirements(source: Path, dest: Path) -> Path:
    """The project minus requirements.txt: same SAM template, no wheel download (tests, offline)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "venv")
    dest.mkdir(parents=True)
    shutil.copy2(source / "app.py", dest / "app.py")
    for sub in ("chalicelib", ".chalice", "vendor"):
        if (source / sub).is_dir():
            shutil.copytree(source / sub, dest / sub, ignore=ignore)
    return dest


def main(argv: list[str]) -> None:
    project_dir, output_dir, stage, config_file = argv
    config = json.loads(Path(config_file).read_text())
    project = Path(project_dir)
    if not config.pop(VENDOR_KEY, True):
        project = copy_without_requirements(project, Path(output_dir + "-src"))

    from chalice import api

    from infra.stacks.app_model import functions, load_app

    api.package_app(project_dir=str(project), output_dir=output_dir, stage=stage, chalice_config=config)
    specs = [asdict(spec) for spec in functions(load_app(str(project)))]  # the module package_app imported
    (Path(output_dir) / "functions.json").write_text(json.dumps(specs, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
