"""Cognito user pools survive a restart of the in-process moto server through cognito_state."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import stat
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError
from moto.cognitoidp.models import cognitoidp_backends
from moto.server import ThreadedMotoServer

from chalicelib.local import cognito_state
from chalicelib.local.cognito_state import load_cognito_state, save_cognito_state

REGION = "eu-west-1"
PASSWORD = "Corr3ct-horse!"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self) -> None:
        self.port = _free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cognito = boto3.client(
            "cognito-idp",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def jwks(self, pool_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/{pool_id}/.well-known/jwks.json") as response:
            return json.load(response)


@pytest.fixture
def own_cognito_backends() -> Iterator[None]:
    """Empty Cognito backends for the test; whatever another fixture (session stack) had comes back."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = dict(cognitoidp_backends)
    dict.clear(cognitoidp_backends)
    try:
        yield
    finally:
        dict.clear(cognitoidp_backends)
        dict.update(cognitoidp_backends, saved)


def _secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _populate(cognito: Any) -> dict[str, str]:
    pool_id = cognito.create_user_pool(
        PoolName="scelle-local",
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    for username in ("alice", "bob"):
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": f"{username}@example.be"},
                {"Name": "custom:tenant", "Value": "t-1"},
            ],
            MessageAction="SUPPRESS",
        )
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
    cognito.admin_disable_user(UserPoolId=pool_id, Username="bob")
    cognito.create_group(UserPoolId=pool_id, GroupName="accountants", Precedence=1)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName="accountants")
    cognito.create_user_pool_domain(UserPoolId=pool_id, Domain="scelle-local")
    return {"pool_id": pool_id, "client_id": client["ClientId"], "secret": client["ClientSecret"]}


def _sign_in(cognito: Any, ids: dict[str, str], username: str, password: str) -> dict[str, Any]:
    return cognito.initiate_auth(
        ClientId=ids["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": username,
            "PASSWORD": password,
            "SECRET_HASH": _secret_hash(ids["secret"], username, ids["client_id"]),
        },
    )["AuthenticationResult"]


def _observable(cognito: Any, pool_id: str, client_id: str) -> dict[str, Any]:
    return {
        "pool": cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"],
        "client": cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"],
        "users": cognito.list_users(UserPoolId=pool_id)["Users"],
        "alice": {
            k: v
            for k, v in cognito.admin_get_user(UserPoolId=pool_id, Username="alice").items()
            if k != "ResponseMetadata"
        },
        "groups": cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username="alice")["Groups"],
        "members": cognito.list_users_in_group(UserPoolId=pool_id, GroupName="accountants")["Users"],
        "domain": cognito.describe_user_pool_domain(Domain="scelle-local")["DomainDescription"]["UserPoolId"],
    }


def _verify(token: str, jwks: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    key = jwt.PyJWK(jwks["keys"][0])
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=ids["client_id"],
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{ids['pool_id']}",
    )


def test_pools_users_and_tokens_survive_a_restart(own_cognito_backends: None, tmp_path: Path) -> None:
    before = Moto()
    ids = _populate(before.cognito)
    old_tokens = _sign_in(before.cognito, ids, "alice", PASSWORD)
    seen_before = _observable(before.cognito, ids["pool_id"], ids["client_id"])
    jwks_before = before.jwks(ids["pool_id"])
    state = tmp_path / "state" / "cognito.state"
    save_cognito_state(state)
    before.server.stop()

    dict.clear(cognitoidp_backends)  # what a new process starts with
    after = Moto()
    assert after.cognito.list_user_pools(MaxResults=10)["UserPools"] == []
    load_cognito_state(state)

    assert _observable(after.cognito, ids["pool_id"], ids["client_id"]) == seen_before
    new_tokens = _sign_in(after.cognito, ids, "alice", PASSWORD)
    for wrong in (("alice", "not-the-password"), ("bob", PASSWORD)):  # wrong password; disabled user
        with pytest.raises(ClientError) as refused:
            _sign_in(after.cognito, ids, *wrong)
        assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"

    # Every pool signs with the key of this process (the local stack's own key from its data
    # directory, moto's when none is installed), not a key of the saved state: same JWKS, so old
    # tokens still verify.
    jwks_after = after.jwks(ids["pool_id"])
    assert jwks_after == jwks_before
    old_claims = _verify(old_tokens["IdToken"], jwks_after, ids)
    new_claims = _verify(new_tokens["IdToken"], jwks_after, ids)
    assert old_claims["sub"] == new_claims["sub"]
    assert new_claims["cognito:groups"] == ["accountants"]
    # Issued tokens are part of the state: the old access and refresh tokens are still accepted.
    assert after.cognito.get_user(AccessToken=old_tokens["AccessToken"])["Username"] == "alice"
    refreshed = after.cognito.initiate_auth(
        ClientId=ids["client_id"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={
            "REFRESH_TOKEN": old_tokens["RefreshToken"],
            "SECRET_HASH": _secret_hash(ids["secret"], "alice", ids["client_id"]),
        },
    )["AuthenticationResult"]
    assert _verify(refreshed["IdToken"], jwks_after, ids)["sub"] == old_claims["sub"]
    after.server.stop()


def test_sign_in_works_in_a_fresh_process(own_cognito_backends: None, tmp_path: Path) -> None:
    before = Moto()
    ids = _populate(before.cognito)
    state = tmp_path / "cognito.state"
    save_cognito_state(state)
    before.server.stop()

    script = textwrap.dedent(
        """
        import json, logging, sys
        from pathlib import Path
        import boto3
        from moto.server import ThreadedMotoServer
        from chalicelib.local.cognito_state import load_cognito_state
        from tests.unit.test_cognito_state import Moto, _sign_in

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        ids = json.loads(sys.argv[2])
        moto = Moto()
        load_cognito_state(Path(sys.argv[1]))
        tokens = _sign_in(moto.cognito, ids, "alice", sys.argv[3])
        try:
            _sign_in(moto.cognito, ids, "alice", "wrong-password")
            wrong = "accepted"
        except moto.cognito.exceptions.NotAuthorizedException:
            wrong = "refused"
        print(json.dumps({"id_token": tokens["IdToken"], "wrong": wrong, "jwks": moto.jwks(ids["pool_id"])}))
        moto.server.stop()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(state), json.dumps(ids), PASSWORD],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["wrong"] == "refused"
    assert _verify(result["id_token"], result["jwks"], ids)["cognito:username"] == "alice"


def test_state_file_is_private_and_written_whole(own_cognito_backends: None, tmp_path: Path) -> None:
    moto = Moto()
    _populate(moto.cognito)
    state = tmp_path / "cognito.state"
    save_cognito_state(state)
    save_cognito_state(state)  # replaces the file
    moto.server.stop()

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["cognito.state"]  # no temporary file left
    assert json.loads(state.read_text())["format"] == cognito_state.FORMAT_VERSION


def test_missing_file_loads_nothing(own_cognito_backends: None, tmp_path: Path) -> None:
    load_cognito_state(tmp_path / "absent")
    assert not any(b.user_pools for regions in dict.values(cognitoidp_backends) for b in dict.values(regions))


def test_state_from_another_moto_version_is_not_loaded(
    own_cognito_backends: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "cognito.state"
    state.write_text(
        json.dumps({"format": cognito_state.FORMAT_VERSION, "moto_version": "0.0.1", "accounts": {}})
    )
    with caplog.at_level(logging.WARNING, logger=cognito_state.__name__):
        load_cognito_state(state)
    assert "moto 0.0.1" in caplog.text
