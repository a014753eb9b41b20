"""The Scellé stack: data resources, the Chalice app with its roles and wiring, monitoring."""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Environment, Stack, Tags
from constructs import Construct

from infra.stacks.console import build_console
from infra.stacks.data import build_data
from infra.stacks.functions import build_functions
from infra.stacks.monitoring import build_monitoring
from infra.stacks.nag import add_nag_suppressions
from infra.stacks.settings import StackSettings


class ScelleStack(Stack):
    """One stage of Scellé. The construct id is the Chalice stage (Chalice's construct uses it)."""

    def __init__(
        self, scope: Construct, settings: StackSettings, *, project_dir: str, account: str | None = None
    ) -> None:
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.resource_prefix,
            env=Environment(account=account, region=settings.region),
            description=f"Scelle sealed ledger, stage {settings.stage}",
            termination_protection=settings.vendor_dependencies,
        )
        self.settings = settings
        Tags.of(self).add("app", "scelle")
        Tags.of(self).add("stage", settings.stage)
        self.data = build_data(self, settings)
        self.functions = build_functions(self, settings, self.data, project_dir=project_dir)
        self.specs = self.functions.specs
        self.monitoring = build_monitoring(self, settings, self.functions, self.data)
        self.console = build_console(self, settings, self.functions, self.data)
        if not settings.vendor_dependencies:
            Annotations.of(self).add_error(
                "packaged without dependencies (scelle:vendor_dependencies=false): synth only, never deploy"
            )
        add_nag_suppressions(self)
        CfnOutput(self, "UserPoolId", value=self.data.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.data.user_pool_client.user_pool_client_id)
        CfnOutput(self, "SigningKeyArn", value=self.data.keys["signing"].key_arn)
        CfnOutput(self, "WitnessKeyArn", value=self.data.keys["witness"].key_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
