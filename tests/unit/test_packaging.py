"""requirements.txt (what `chalice package` reads) must list exactly pyproject's runtime deps."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normalise(line: str) -> str:
    return re.sub(r"\s+", "", line).lower()


def test_requirements_txt_matches_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normalise(d) for d in project["dependencies"]}
    listed = {
        _normalise(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert listed == declared


def test_the_local_emulator_is_not_packaged_into_the_lambda():
    listed = (ROOT / "requirements.txt").read_text().lower()
    assert "moto" not in listed
    assert "pytest" not in listed


def test_every_dependency_has_a_lower_bound():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        assert ">=" in dep, dep


def test_the_scelle_console_script_points_at_the_cli():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["scelle"] == "chalicelib.cli:main"


def _extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_make_run_installs_the_local_stack_without_the_cdk_or_the_test_tools():
    """`make run` installs the `local` extra only (Makefile): no CDK (~430 MB), no pytest or ruff."""
    local = _names(_extras()["local"])
    assert "moto" in local
    assert not local & {"aws-cdk-lib", "constructs", "cdk-nag", "aws-sam-translator", "pytest", "ruff"}
    assert not any("cdkv2" in r or "moto[server]" in r for r in _extras()["local"])


def test_the_dev_extra_includes_the_local_stack_and_the_cdk_app():
    """`make test` installs `dev`: after it, `make run` has nothing left to install."""
    dev = _extras()["dev"]
    included = {extra.strip() for r in dev if r.startswith("scelle[") for extra in r[len("scelle["):-1].split(",")}
    assert {"local", "infra"} <= included, dev


def test_make_run_and_make_test_install_their_own_extra():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: \$\(RUN_STAMP\)$", makefile, re.M)
    assert re.search(r"^test: \$\(DEV_STAMP\)$", makefile, re.M)
    assert "$(call install_extra,local," in makefile and "$(call install_extra,dev," in makefile


# ---- the offline verifier's package in the Lambda (verifier/scelle_verify) ------------------------
AWS_ENV = {"SCELLE_MODE": "aws", "SCELLE_STAGE": "prod", "SCELLE_RESOURCE_PREFIX": "scelle-prod",
           "SCELLE_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
_IMPORTS_FROM_ROOT = """
import sys
root = sys.argv[1]
sys.path.insert(0, root)
import app
import chalicelib.domain.records, chalicelib.verify_export.format, scelle_verify
from chalicelib.verify_export import verify_archive
files = [scelle_verify.__file__, chalicelib.domain.records.__file__, chalicelib.verify_export.format.__file__,
         verify_archive.__code__.co_filename]
assert all(f.startswith(root) for f in files), files
assert chalicelib.domain.records.__name__ == "scelle_verify.domain.records"
print("ok")
"""


def test_the_lambda_package_carries_the_verifier_package_that_chalicelib_reuses(tmp_path):
    """`chalice package` takes app.py, chalicelib/ and vendor/ (whose contents go to the root of
    the Lambda zip): the copy it packages (infra/stacks/packaging.py) holds verifier/scelle_verify as
    vendor/scelle_verify, and the app imports it from there."""
    import os
    import shutil
    import subprocess
    import sys

    from infra.stacks.packaging import copy_project

    copy = copy_project(ROOT, tmp_path / "copy", requirements=False)
    assert (copy / "vendor" / "scelle_verify" / "verifier.py").is_file()
    assert (copy / "vendor" / "scelle_verify" / "domain" / "records.py").is_file()
    assert not (copy / "requirements.txt").exists()
    assert (copy_project(ROOT, tmp_path / "vendored") / "requirements.txt").is_file()
    # The Lambda's layout: vendor/'s contents at the root, next to app.py and chalicelib/
    root = tmp_path / "lambda"
    shutil.copytree(copy, root, ignore=shutil.ignore_patterns("vendor"))
    shutil.copytree(copy / "vendor", root, dirs_exist_ok=True)
    done = subprocess.run([sys.executable, "-I", "-c", _IMPORTS_FROM_ROOT, str(root)], cwd=tmp_path,
                          env={**os.environ, **AWS_ENV}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stdout[-2000:] + done.stderr[-3000:]


def test_make_install_installs_the_verifier_package_with_the_main_one():
    """`pip install -e .` (the Makefile's install steps) installs scelle_verify from verifier/ too,
    and `scelle-verify` next to `scelle`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = project["tool"]["setuptools"]["packages"]["find"]
    assert "verifier" in find["where"] and "scelle_verify*" in find["include"]
    assert project["project"]["scripts"]["scelle-verify"] == "scelle_verify.cli:main"
