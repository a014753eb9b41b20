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
