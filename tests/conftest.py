"""Shared fixtures. Unit tests use none of the server fixtures; functional and integration
tests share one embedded moto server per session (see tests/support/stack.py)."""

from __future__ import annotations

import os

import pytest

# Never let a test reach a real AWS account, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Scelle")
os.environ.setdefault("SCELLE_LOG_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    from tests.support.stack import start_test_stack

    test_stack = start_test_stack(tmp_path_factory.mktemp("keys"))
    yield test_stack
    test_stack.moto.stop()


@pytest.fixture
def container(stack):
    """A fresh container on the session stack (fresh caches; same tables)."""
    from chalicelib import bootstrap

    built = stack.container()
    yield built
    bootstrap.configure(stack.settings)


@pytest.fixture
def api(container):
    from app import app
    from tests.support.client import ApiClient

    return ApiClient(app)
