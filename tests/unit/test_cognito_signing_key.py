"""Local Cognito tokens are signed with a key of the data directory, never with the private key
shipped in moto's package (public: anyone could mint a token for any user with it)."""

from __future__ import annotations

import json
import logging
import stat
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from joserfc import jwk
from joserfc import jwt as jose_jwt
from moto.cognitoidp.models import cognitoidp_backends
from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse
from moto.server import ThreadedMotoServer
from moto.utilities.utils import load_resource

from chalicelib.local import moto_patches
from chalicelib.local.cognito_state import load_cognito_state, save_cognito_state
from chalicelib.local.moto_patches import (
    UnsafeCognito,
    cognito_signing_key,
    load_or_create_cognito_key,
    use_cognito_signing_key,
)
from chalicelib.local.moto_server import free_port

REGION = "eu-west-1"
PASSWORD = "Corr3ct-horse!"


@pytest.fixture
def isolated() -> Iterator[None]:
    """Empty Cognito backends and the key in use put back afterwards (a session-wide embedded
    stack may be running in this process with its own key and pools)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved_backends = dict(cognitoidp_backends)
    saved_key = moto_patches._cognito_key
    dict.clear(cognitoidp_backends)
    try:
        yield
    finally:
        use_cognito_signing_key(saved_key)
        dict.clear(cognitoidp_backends)
        dict.update(cognitoidp_backends, saved_backends)


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _pool(endpoint: str) -> tuple[Any, dict[str, str]]:
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    pool_id = cognito.create_user_pool(PoolName="scelle-local", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="alice@example.be", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "alice@example.be"}])
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="alice@example.be", Password=PASSWORD,
                                    Permanent=True)
    return cognito, {"pool_id": pool_id, "client_id": client_id}


def _id_token(cognito: Any, ids: dict[str, str]) -> str:
    return cognito.initiate_auth(
        ClientId=ids["client_id"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice@example.be", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]


def _jwks(endpoint: str, pool_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json") as response:
        return json.load(response)


def _verifies(token: str, jwks: dict[str, Any], ids: dict[str, str]) -> bool:
    """As the API's verifier does: the key of the token's kid in the pool's JWKS, RS256."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    try:
        jwt.decode(token, key, algorithms=["RS256"], audience=ids["client_id"],
                   issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{ids['pool_id']}")
    except jwt.InvalidSignatureError:
        return False
    return True


def _forged_with_motos_key(claims: dict[str, Any]) -> str:
    """What anyone with moto installed can make: the claims they like, moto's bundled key."""
    bundled = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    now = int(time.time())
    return jose_jwt.encode({"kid": "dummy", "alg": "RS256"}, {**claims, "iat": now, "exp": now + 3600}, bundled)


def test_the_key_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "cognito-signing.jwk.json"
    first = load_or_create_cognito_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.is_private and first.as_dict()["kid"] == "dummy"
    again = load_or_create_cognito_key(path)
    assert again.as_dict(private=False)["n"] == first.as_dict(private=False)["n"]
    other = load_or_create_cognito_key(tmp_path / "other" / "cognito-signing.jwk.json")
    assert other.as_dict(private=False)["n"] != first.as_dict(private=False)["n"]  # one key per data dir
    path.chmod(0o644)
    load_or_create_cognito_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_pools_sign_with_the_local_key_and_a_token_forged_with_motos_key_does_not_verify(
    isolated: None, moto_endpoint: str, tmp_path: Path
) -> None:
    bundled_public = load_resource("cognitoidp/resources/jwks-public.json")
    use_cognito_signing_key(load_or_create_cognito_key(tmp_path / "cognito.jwk.json"))
    cognito, ids = _pool(moto_endpoint)
    token = _id_token(cognito, ids)
    jwks = _jwks(moto_endpoint, ids["pool_id"])

    assert jwks != bundled_public
    assert [k["n"] for k in jwks["keys"]] != [k["n"] for k in bundled_public["keys"]]
    assert "d" not in jwks["keys"][0]  # the public half only
    assert _verifies(token, jwks, ids)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = _forged_with_motos_key(claims)
    assert _verifies(forged, bundled_public, ids)  # a genuine moto token, as moto itself would sign it
    assert not _verifies(forged, jwks, ids)  # ... refused by this pool's JWKS


def test_installing_a_key_rekeys_existing_pools_and_none_puts_motos_key_back(
    isolated: None, moto_endpoint: str, tmp_path: Path
) -> None:
    use_cognito_signing_key(None)
    cognito, ids = _pool(moto_endpoint)
    bundled_public = load_resource("cognitoidp/resources/jwks-public.json")
    assert _jwks(moto_endpoint, ids["pool_id"]) == bundled_public  # moto as shipped

    use_cognito_signing_key(load_or_create_cognito_key(tmp_path / "cognito.jwk.json"))
    jwks = _jwks(moto_endpoint, ids["pool_id"])
    assert jwks != bundled_public and _verifies(_id_token(cognito, ids), jwks, ids)

    use_cognito_signing_key(None)
    assert _jwks(moto_endpoint, ids["pool_id"]) == bundled_public
    assert _verifies(_id_token(cognito, ids), bundled_public, ids)


def test_a_restored_pool_signs_with_the_local_key(isolated: None, moto_endpoint: str, tmp_path: Path) -> None:
    key = load_or_create_cognito_key(tmp_path / "cognito.jwk.json")
    use_cognito_signing_key(key)
    cognito, ids = _pool(moto_endpoint)
    before = _id_token(cognito, ids)
    save_cognito_state(tmp_path / "cognito.state")

    dict.clear(cognitoidp_backends)  # a new start: the same key file, the saved state
    use_cognito_signing_key(load_or_create_cognito_key(tmp_path / "cognito.jwk.json"))
    load_cognito_state(tmp_path / "cognito.state")
    pool = cognitoidp_backends["123456789012"][REGION].user_pools[ids["pool_id"]]
    assert pool.json_web_key.as_dict(private=False)["n"] == key.as_dict(private=False)["n"]
    jwks = _jwks(moto_endpoint, ids["pool_id"])
    assert _verifies(before, jwks, ids) and _verifies(_id_token(cognito, ids), jwks, ids)


def test_an_unrecognised_moto_is_refused_and_left_as_it_was(isolated: None, monkeypatch, tmp_path: Path) -> None:
    before_key, before_jwks = cognito_signing_key(), CognitoIdpJsonWebKeyResponse.json_web_key
    monkeypatch.setitem(moto_patches._COGNITO_SOURCES, ("CognitoIdpUserPool", "create_jwt"), "0" * 16)
    with pytest.raises(UnsafeCognito, match=r"CognitoIdpUserPool\.create_jwt"):
        use_cognito_signing_key(load_or_create_cognito_key(tmp_path / "cognito.jwk.json"))
    assert CognitoIdpJsonWebKeyResponse.json_web_key == before_jwks
    assert cognito_signing_key().as_dict(private=False) == before_key.as_dict(private=False)


def test_the_embedded_moto_never_uses_motos_key(isolated: None, tmp_path: Path) -> None:
    from chalicelib.local.moto_server import EmbeddedMoto

    bundled = load_resource("cognitoidp/resources/jwks-public.json")["keys"][0]["n"]
    use_cognito_signing_key(None)
    moto = EmbeddedMoto().start()  # no key file: a key drawn for this process
    try:
        assert cognito_signing_key().as_dict(private=False)["n"] != bundled
    finally:
        moto.stop()
    key_file = tmp_path / "keys" / "cognito-signing.jwk.json"
    moto = EmbeddedMoto(cognito_key_file=key_file).start()
    try:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        served = _jwks(moto.endpoint, "eu-west-1_any")["keys"][0]["n"]
        assert served == load_or_create_cognito_key(key_file).as_dict(private=False)["n"] != bundled
    finally:
        moto.stop()
