"""cdk-nag's AwsSolutions pack finds nothing unsuppressed; an offline package cannot be deployed."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

from infra.stacks.settings import StackSettings


def test_cdk_nag_finds_nothing_unsuppressed(each):
    annotations = Annotations.from_stack(each.stack)
    findings = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) + annotations.find_warning(
        "*", Match.string_like_regexp("AwsSolutions-.*")
    )
    assert [f"{f.id}: {f.entry.data}" for f in findings] == []


def test_a_stack_packaged_without_dependencies_is_marked_undeployable(real):
    errors = Annotations.from_stack(real.stack).find_error("*", Match.string_like_regexp(".*never deploy.*"))
    assert len(errors) == 1


def test_settings_are_validated_with_the_apps_own_rules():
    assert StackSettings(stage="staging").resource_prefix == "scelle-staging"
    with pytest.raises(Exception, match="SCELLE_STAGE"):
        StackSettings(stage="Prod!")
    with pytest.raises(ValueError, match="archive_retention_days"):
        StackSettings(archive_retention_days=0)
    assert StackSettings.from_context(
        {
            "scelle:stage": "dev",
            "scelle:vendor_dependencies": "false",
            "scelle:archive_retention_days": "1",
        }.get
    ) == StackSettings(stage="dev", vendor_dependencies=False, archive_retention_days=1)
