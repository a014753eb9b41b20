#!/usr/bin/env python3
"""CDK entry point: ``cdk deploy -c scelle:stage=prod`` (see docs/deploy.md, ``make deploy``).

Run from this directory; the Chalice project is the parent directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
import cdk_nag  # noqa: E402

from infra.stacks.scelle_stack import ScelleStack  # noqa: E402
from infra.stacks.settings import StackSettings  # noqa: E402


def main() -> None:
    app = cdk.App()
    settings = StackSettings.from_context(app.node.try_get_context)
    ScelleStack(app, settings, project_dir=str(PROJECT_DIR), account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    cdk.Aspects.of(app).add(cdk_nag.AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
