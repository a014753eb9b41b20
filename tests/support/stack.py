"""One embedded AWS (moto server on a free loopback port) per test session, shared by the
functional and integration tests. Each session provisions under its own resource prefix, and
tests isolate themselves further with unique tenants, so the suite can run twice in a row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from chalicelib import bootstrap
from chalicelib.config import Settings, load_settings
from chalicelib.local.moto_server import EmbeddedMoto
from chalicelib.local.provision import Provisioned, provision


@dataclass
class TestStack:
    moto: EmbeddedMoto
    settings: Settings
    provisioned: Provisioned

    def container(self, **overrides) -> bootstrap.Container:
        return bootstrap.configure(self.settings, **overrides)


def start_test_stack(key_dir: Path, **settings_overrides) -> TestStack:
    from chalicelib.local import operator_token
    from chalicelib.local.moto_patches import COGNITO_KEY_FILE

    # As `scelle local`: Cognito signs with a key of the test's own, never moto's bundled one.
    moto = EmbeddedMoto(cognito_key_file=key_dir / COGNITO_KEY_FILE).start()
    env = {
        "SCELLE_MODE": "local",
        "SCELLE_AWS_ENDPOINT_URL": moto.endpoint,
        "SCELLE_RESOURCE_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "SCELLE_LOCAL_KEY_DIR": str(key_dir),
        "SCELLE_SIGNING_KEY_ID": "local:signing",
        "SCELLE_DATA_KEY_ID": "local:data",
        "SCELLE_EXPOSE_OUTBOX": "true",
        "SCELLE_DATA_DIR": str(key_dir / "data"),  # the mail outbox; never the developer's .scelle
    }
    settings = load_settings(env)
    operator_token.issue(settings.data_dir)  # what /v1/local/* require (tests/support/users.py)
    provisioned = provision(bootstrap.Container(settings).client, settings)
    settings = settings.model_copy(
        update={
            "user_pool_id": provisioned.user_pool_id,
            "user_pool_client_id": provisioned.user_pool_client_id,
            **settings_overrides,
        }
    )
    return TestStack(moto, settings, provisioned)
