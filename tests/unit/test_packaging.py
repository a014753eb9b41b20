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
