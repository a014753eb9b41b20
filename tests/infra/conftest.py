"""Synthesizes the stack once per session, from the real app and from the contract stand-in.

Packaging runs with ``vendor_dependencies=False`` (no network, no 30 MB wheel download): the SAM
template is the one ``chalice package`` writes for the real app; only the zip lacks third-party
wheels. Chalice's construct writes ``chalice.out`` into the working directory, so the session
works in a temporary directory.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PROJECT_DIR = Path(__file__).resolve().parents[2]
CONTRACT_APP_DIR = Path(__file__).resolve().parent / "contract_app"
SYNTH_SECONDS: dict[str, float] = {}
OPERATOR_EMAIL = "ops@scelle.example,oncall@scelle.example"  # scelle:operator_email of the test synths


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.infra)


@dataclass
class Synth:
    name: str
    stack: Any  # infra.stacks.ScelleStack
    template: dict[str, Any]
    assertions: Any  # aws_cdk.assertions.Template
    listing: dict[str, Any]  # what app.py registers in AWS mode (``app_listing``)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def functions(self) -> dict[str, dict[str, Any]]:
        """Function name (``<prefix>-<handler>``) -> SAM function resource."""
        return {r["Properties"]["FunctionName"]: r for r in self.resources("AWS::Serverless::Function").values()}

    @functools.cached_property
    def cloudformation(self) -> dict[str, Any]:
        """The template after the SAM transform, as CloudFormation will run it (offline)."""
        from samtranslator.translator.transform import transform

        class _NoManagedPolicies:
            def load(self):
                return {}

        return transform(copy.deepcopy(self.template), {}, _NoManagedPolicies())

    def handler_names(self) -> set[str]:
        prefix = self.stack.settings.resource_prefix + "-"
        return {name.removeprefix(prefix) for name in self.functions()}


_LISTING = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app import app
names = {s.name for s in app.event_sources} | {f.name for f in app.pure_lambda_functions}
names |= {a.name for a in app.builtin_auth_handlers} | ({"api_handler"} if app.routes else set())
assert names <= set(app.handler_map) | {"api_handler"}
print(json.dumps({
    "names": sorted(names),
    "streams": {s.name: s.stream_arn for s in app.event_sources if type(s).__name__ == "DynamoDBEventConfig"},
    "schedules": {s.name: str(s.schedule_expression if isinstance(s.schedule_expression, str)
                              else s.schedule_expression.to_string())
                  for s in app.event_sources if type(s).__name__ == "ScheduledEventConfig"},
}))
"""


def app_listing(project_dir: Path) -> dict[str, Any]:
    """The functions ``app.py`` registers when imported as on AWS (``SCELLE_MODE=aws``), read from
    ``app.event_sources`` and ``handler_map`` in a fresh interpreter, independently of infra/."""
    env = {
        **os.environ,
        "SCELLE_MODE": "aws",
        "SCELLE_STAGE": "prod",
        "SCELLE_RESOURCE_PREFIX": "scelle-prod",
        "SCELLE_REGION": "eu-west-1",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LISTING, str(project_dir)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _synth(name: str, project_dir: Path, outdir: Path) -> Synth:
    started = time.perf_counter()  # the first synth includes importing aws_cdk and starting jsii
    import aws_cdk as cdk
    import cdk_nag
    from aws_cdk.assertions import Template

    from infra.stacks.scelle_stack import ScelleStack
    from infra.stacks.settings import StackSettings

    app = cdk.App(outdir=str(outdir))
    settings = StackSettings(vendor_dependencies=False, operator_email=OPERATOR_EMAIL)
    stack = ScelleStack(app, settings, project_dir=str(project_dir))
    cdk.Aspects.of(stack).add(cdk_nag.AwsSolutionsChecks())
    template = Template.from_stack(stack)
    SYNTH_SECONDS[name] = time.perf_counter() - started
    return Synth(name, stack, template.to_json(), template, app_listing(project_dir))


@pytest.fixture(scope="session")
def synths(tmp_path_factory) -> dict[str, Synth]:
    work = tmp_path_factory.mktemp("cdk")
    previous = os.getcwd()
    os.chdir(work)  # chalice.out lands here
    try:
        return {
            "real": _synth("real", PROJECT_DIR, work / "real.out"),
            "contract": _synth("contract", CONTRACT_APP_DIR, work / "contract.out"),
        }
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def real(synths) -> Synth:
    return synths["real"]


@pytest.fixture(scope="session")
def contract(synths) -> Synth:
    return synths["contract"]


@pytest.fixture(scope="session", params=["real", "contract"])
def each(request, synths) -> Synth:
    """Runs a test on both templates: the real app's and the contract stand-in's."""
    return synths[request.param]


def pytest_terminal_summary(terminalreporter):
    if SYNTH_SECONDS:
        times = ", ".join(f"{k} {v:.1f} s" for k, v in SYNTH_SECONDS.items())
        terminalreporter.write_line(f"infra: CDK synth times: {times}")
