"""The functions Chalice packages: names, roles, event sources, settings and gateway errors."""

from __future__ import annotations

import json

import pytest
from chalice.local import LocalGatewayException

from chalicelib.config import Settings, load_settings
from chalicelib.local.gateway import PROBLEM_JSON, ProblemLocalGateway
from infra.stacks.functions import STREAM_RETRIES, UNSUBSCRIBE_KEY_USERS
from infra.stacks.settings import StackSettings
from tests.infra.conftest import OPERATOR_EMAIL
from tests.infra.needs import NEEDS, UNSUBSCRIBE_KEY_READERS

PREFIX = "scelle-prod"
# docs/decisions/0000-contracts-between-modules.md
CONTRACT_STREAMS = {
    "on_journal_record": "journal",
    "on_events_record": "events",
    "on_checkpoint_record": "checkpoints",
}
CONTRACT_SCHEDULES = {
    "sign_checkpoints": "rate(5 minutes)",
    "close_periods": "rate(1 hour)",
    "verify_chains": "rate(1 hour)",
    "check_ticket_sla": "rate(15 minutes)",
}
CONTRACT_ASYNC = ("build_export", "send_mailing", "inbound_mail")
CONTRACT_INVOKED = ("witness_checkpoint",)  # synchronously, by sign_chain and build_export
# The workers of scheduled work (decision 0028): plain functions wired to RESOURCES.queues.
CONTRACT_WORKERS = ("sign_chain", "close_chain", "verify_chain")


def registered(synth) -> set[str]:
    """Every Lambda function the app registers in AWS mode (from app.event_sources + handler_map)."""
    return set(synth.listing["names"])


def _table_id(synth, logical):
    (found,) = [
        k
        for k, r in synth.resources("AWS::DynamoDB::Table").items()
        if r["Properties"]["TableName"] == f"{PREFIX}-{logical}"
    ]
    return found


def test_every_function_the_app_registers_is_deployed_under_its_fixed_name(each):
    assert each.handler_names() == registered(each)
    for name, fn in each.functions().items():
        assert name.startswith(PREFIX + "-") and len(name) <= 64


def test_the_contract_stand_in_registers_every_contract_handler(contract):
    expected = (set(CONTRACT_STREAMS) | set(CONTRACT_SCHEDULES) | set(CONTRACT_ASYNC) | set(CONTRACT_INVOKED)
                | set(CONTRACT_WORKERS) | {"api_handler", "jwt_authorizer"})
    assert registered(contract) == expected


def test_each_function_has_a_role_of_its_own(each):
    roles = [fn["Properties"]["Role"] for fn in each.functions().values()]
    assert all(isinstance(r, dict) and "Fn::GetAtt" in r for r in roles)
    assert len({r["Fn::GetAtt"][0] for r in roles}) == len(roles)
    for fn in each.functions().values():
        # The function waits for its role's policy (event source mappings check stream access).
        role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = [each.template["Resources"][d] for d in fn.get("DependsOn", [])]
        assert any(p["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in p["Properties"]["Roles"] for p in policies)


@pytest.mark.parametrize("handler,table", CONTRACT_STREAMS.items())
def test_stream_handlers_get_partial_batch_responses_bisect_retries_and_a_dead_letter_queue(each, handler, table):
    if handler not in registered(each):
        pytest.skip(f"{handler} is not registered in the {each.name} app yet")
    fn = each.functions()[f"{PREFIX}-{handler}"]
    (event,) = fn["Properties"]["Events"].values()
    props = event["Properties"]

    assert event["Type"] == "DynamoDB"
    assert props["Stream"] == {"Fn::GetAtt": [_table_id(each, table), "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == STREAM_RETRIES
    assert props["StartingPosition"] == "TRIM_HORIZON"
    queue_id = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert props["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    queue = each.template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_every_stream_source_the_app_declares_is_wired_to_its_tables_real_stream(each):
    for name, declared_arn in each.listing["streams"].items():
        (event,) = each.functions()[f"{PREFIX}-{name}"]["Properties"]["Events"].values()
        logical = declared_arn.split(":table/")[1].split("/")[0].rsplit("-", 1)[-1]
        assert event["Properties"]["Stream"] == {"Fn::GetAtt": [_table_id(each, logical), "StreamArn"]}, name


@pytest.mark.parametrize("handler,expression", CONTRACT_SCHEDULES.items())
def test_scheduled_handlers_run_on_the_contract_schedule(each, handler, expression):
    if handler not in registered(each):
        pytest.skip(f"{handler} is not registered in the {each.name} app yet")
    (event,) = each.functions()[f"{PREFIX}-{handler}"]["Properties"]["Events"].values()
    assert event == {"Type": "Schedule", "Properties": {"Schedule": expression}}


def test_every_schedule_the_app_declares_is_deployed(each):
    for name, expression in each.listing["schedules"].items():
        (event,) = each.functions()[f"{PREFIX}-{name}"]["Properties"]["Events"].values()
        assert event == {"Type": "Schedule", "Properties": {"Schedule": expression}}


def test_inbound_mail_is_notified_of_new_objects_under_inbound_in_the_support_bucket(contract):
    (bucket,) = [
        r
        for r in contract.resources("AWS::S3::Bucket").values()
        if r["Properties"]["BucketName"] == f"{PREFIX}-support"
    ]
    (config,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "inbound/"}]}}
    fn_id = config["Function"]["Fn::GetAtt"][0]
    assert contract.template["Resources"][fn_id]["Properties"]["FunctionName"] == f"{PREFIX}-inbound_mail"
    permissions = [
        r
        for r in contract.resources("AWS::Lambda::Permission").values()
        if r["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert len(permissions) == 1 and permissions[0]["Properties"]["FunctionName"] == {"Ref": fn_id}


def test_functions_get_the_settings_the_app_validates_at_start(each):
    for fn in each.functions().values():
        env = fn["Properties"]["Environment"]["Variables"]
        scelle = {k: v for k, v in env.items() if k.startswith("SCELLE_")}
        fields = {f"SCELLE_{name.upper()}" for name in Settings.model_fields}
        assert set(scelle) <= fields, set(scelle) - fields
        for required in (
            "SCELLE_SIGNING_KEY_ID",
            "SCELLE_DATA_KEY_ID",
            "SCELLE_WRITE_PROOF_KEY_ID",  # required in aws mode (Container.write_proofs)
            "SCELLE_USER_POOL_ID",
            "SCELLE_USER_POOL_CLIENT_ID",
            "SCELLE_RESOURCE_PREFIX",
            "SCELLE_REGION",
        ):
            assert required in scelle
        # Deploy-time values (Refs) replaced by placeholders: the app's own validation must pass.
        resolved = {k: v if isinstance(v, str) else "resolved-at-deploy" for k, v in scelle.items()}
        settings = load_settings(resolved)
        assert settings.mode == "aws" and settings.expose_outbox is False
        assert settings.resource_prefix == PREFIX and settings.aws_endpoint_url is None


def test_the_unsubscribe_key_comes_from_secrets_manager_and_only_to_the_mailing_functions(each):
    reference = "{{resolve:secretsmanager:scelle-prod/unsubscribe-key:SecretString:::}}"
    for name, fn in each.functions().items():
        env = fn["Properties"]["Environment"]["Variables"]
        if name.removeprefix(PREFIX + "-") in UNSUBSCRIBE_KEY_USERS:
            # A dynamic reference, resolved by CloudFormation at deploy time: never a literal key.
            assert env["SCELLE_UNSUBSCRIBE_KEY"] == reference, name
        else:
            assert "SCELLE_UNSUBSCRIBE_KEY" not in env, name
    assert "unsubscribe-key:SecretString" not in json.dumps(each.template).replace(reference, "")


def test_exactly_the_functions_that_read_the_unsubscribe_key_get_it():
    assert set(UNSUBSCRIBE_KEY_USERS) == set(UNSUBSCRIBE_KEY_READERS)


def _key_alias_target(synth, logical: str) -> str:
    (alias,) = [a for a in synth.resources("AWS::KMS::Alias").values()
                if a["Properties"]["AliasName"] == f"alias/{PREFIX}-{logical}"]
    return alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]


def test_the_witness_key_goes_to_the_witness_and_its_function_name_to_its_callers_only(each):
    """Decision 0024: SCELLE_WITNESS_KEY_ID to the function that signs with the witness's key,
    SCELLE_WITNESS_FUNCTION to the functions that invoke it (tests/infra/needs.py), to no other."""
    witness = "witness_checkpoint"
    key_users = {f for f, needs in NEEDS.items() if ("kms.sign", "witness") in {(c, t) for c, t, _ in needs}}
    callers = {f for f, needs in NEEDS.items() if ("lambda.invoke", witness) in {(c, t) for c, t, _ in needs}}
    assert key_users == {witness} and callers == {"sign_chain", "build_export"}
    key_id = _key_alias_target(each, "witness")
    for name, fn in each.functions().items():
        handler = name.removeprefix(PREFIX + "-")
        env = fn["Properties"]["Environment"]["Variables"]
        if handler in key_users:
            assert env["SCELLE_WITNESS_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}, name
        else:
            assert "SCELLE_WITNESS_KEY_ID" not in env, name
        if handler in callers:
            assert env["SCELLE_WITNESS_FUNCTION"] == f"{PREFIX}-{witness}", name
        else:
            assert "SCELLE_WITNESS_FUNCTION" not in env, name
    assert f"{PREFIX}-{witness}" in each.functions()


def test_the_signing_function_s_name_goes_to_the_api_only(each):
    """Issue 14 item 3: the API asks sign_chain for on-demand checkpoints by SCELLE_SIGNER_FUNCTION
    (required in aws mode by Container.on_demand_checkpoints); the functions that invoke it
    (tests/infra/needs.py) get it, no other. Not the sign_checkpoints schedule (decision 0028): its
    Chalice wrapper would read the request as an EventBridge event."""
    signer = "sign_chain"
    requesters = {f for f, needs in NEEDS.items() if ("lambda.invoke", signer) in {(c, t) for c, t, _ in needs}}
    assert requesters == {"api_handler"}
    for name, fn in each.functions().items():
        env = fn["Properties"]["Environment"]["Variables"]
        if name.removeprefix(PREFIX + "-") in requesters:
            assert env["SCELLE_SIGNER_FUNCTION"] == f"{PREFIX}-{signer}", name
        else:
            assert "SCELLE_SIGNER_FUNCTION" not in env, name
    assert f"{PREFIX}-{signer}" in each.functions()


def _container(fn):
    from chalicelib.bootstrap import Container

    env = {k: v for k, v in fn["Properties"]["Environment"]["Variables"].items() if k.startswith("SCELLE_")}
    def placeholder(name: str) -> str:  # a deploy-time Ref; key ids are ARNs (no DescribeKey offline)
        return f"arn:aws:kms:eu-west-1:123456789012:key/{name.lower()}" if name.endswith("_KEY_ID") else "resolved"

    resolved = {k: v if isinstance(v, str) else placeholder(k) for k, v in env.items()}
    return Container(load_settings(resolved))


def test_each_function_s_environment_builds_its_side_of_the_witness(real):
    """Offline, with the synthesized environment: the callers build their witness client (aws mode
    refuses to without SCELLE_WITNESS_FUNCTION); the API, which only dispatches exports, builds
    its export service without it; no other function can reach the witness."""
    from chalicelib.adapters.witness_lambda import LambdaWitnessClient
    from chalicelib.config import ConfigError

    for name, fn in real.functions().items():
        handler = name.removeprefix(PREFIX + "-")
        container = _container(fn)
        if handler in ("sign_chain", "build_export"):
            assert isinstance(container.witness_client, LambdaWitnessClient), name
        else:
            with pytest.raises(ConfigError, match="SCELLE_WITNESS_FUNCTION"):
                _ = container.witness_client
        if handler == "sign_chain":
            assert container.checkpoint_signer is not None
        if handler == "api_handler":
            assert container.exports is not None


def test_the_api_s_environment_sends_on_demand_checkpoints_to_the_signing_function(real):
    """Offline: the API's on-demand checkpoints go to LambdaCheckpointSigning on
    <prefix>-sign_chain; any other function refuses to build that path (aws mode)."""
    from chalicelib.adapters.checkpoint_requests import LambdaCheckpointSigning
    from chalicelib.config import ConfigError

    for name, fn in real.functions().items():
        container = _container(fn)
        if name.removeprefix(PREFIX + "-") == "api_handler":
            signing = container.on_demand_checkpoints
            assert isinstance(signing, LambdaCheckpointSigning)
            assert signing._function == f"{PREFIX}-sign_chain"
        else:
            with pytest.raises(ConfigError, match="SCELLE_SIGNER_FUNCTION"):
                _ = container.on_demand_checkpoints


def test_the_operator_email_comes_from_the_context(each):
    for name, fn in each.functions().items():
        assert fn["Properties"]["Environment"]["Variables"]["SCELLE_OPERATOR_EMAIL"] == OPERATOR_EMAIL, name


def test_operator_email_and_secret_settings_are_validated():
    assert StackSettings().unsubscribe_key_secret == "scelle-prod/unsubscribe-key"
    assert StackSettings(resource_prefix="acme-x").unsubscribe_key_secret == "acme-x/unsubscribe-key"
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/unsub-AbCdEf"
    assert StackSettings(unsubscribe_key_secret=arn).unsubscribe_key_secret == arn
    assert StackSettings(operator_email=" a@x.example , b@y.example ").operator_emails == ["a@x.example", "b@y.example"]
    with pytest.raises(ValueError, match="operator_email"):
        StackSettings(operator_email="ops@x.example,not-an-address")
    with pytest.raises(ValueError, match="unsubscribe_key_secret"):
        StackSettings(unsubscribe_key_secret="{{resolve:ssm:x}}")
    assert StackSettings.from_context({"scelle:operator_email": "ops@x.example"}.get).operator_email == "ops@x.example"


def _gateway_responses(synth):
    (api,) = synth.resources("AWS::Serverless::Api").values()
    return api["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]


def _local_problem(message: str, headers: dict[str, str], code: int = 403) -> tuple[int, dict]:
    exc = LocalGatewayException({}, json.dumps({"message": message}).encode())
    exc.CODE = code
    answer = ProblemLocalGateway._as_problem(exc, headers)
    assert answer["headers"]["Content-Type"] == PROBLEM_JSON
    return answer["statusCode"], json.loads(answer["body"])


def test_an_unknown_route_is_a_404_problem_as_in_local_mode(each):
    response = _gateway_responses(each)["MISSING_AUTHENTICATION_TOKEN"]
    status, local = _local_problem("Missing Authentication Token", {})

    assert int(response["statusCode"]) == status == 404
    assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == f"'{PROBLEM_JSON}'"
    assert json.loads(response["responseTemplates"]["application/json"]) == local


@pytest.mark.parametrize("kind", ["UNAUTHORIZED", "ACCESS_DENIED"])
def test_refused_tokens_are_401_problems_as_in_local_mode(each, kind):
    response = _gateway_responses(each)[kind]
    status, local = _local_problem("Unauthorized", {"Authorization": "Bearer x"}, code=401)
    body = json.loads(response["responseTemplates"]["application/json"])

    assert int(response["statusCode"]) == status == 401
    assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == f"'{PROBLEM_JSON}'"
    assert {k: body[k] for k in ("type", "title", "status")} == {k: local[k] for k in ("type", "title", "status")}


def test_default_gateway_errors_are_problems_too(each):
    responses = _gateway_responses(each)
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["responseTemplates"]["application/json"]
        body = json.loads(template.replace("$context.error.messageString", '"message"'))
        assert body["type"].endswith("/gateway-error")


def test_the_api_is_named_after_the_prefix_for_its_metrics(each):
    (api,) = each.resources("AWS::Serverless::Api").values()
    assert api["Properties"]["Name"] == f"{PREFIX}-api"
    assert api["Properties"]["StageName"] == "v1"
