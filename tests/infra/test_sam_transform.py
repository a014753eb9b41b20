"""The SAM template Chalice writes, with our overrides, transforms into valid CloudFormation."""

from __future__ import annotations

from chalicelib.resources import RESOURCES

PREFIX = "scelle-prod"


def _of_type(cfn, type_):
    return [r for r in cfn["Resources"].values() if r["Type"] == type_]


def test_the_sam_transform_accepts_the_template_and_creates_no_role_of_its_own(each):
    cfn = each.cloudformation

    # The transform keeps each function's logical id (the console's BucketDeployment handler is a
    # plain Lambda function of the stack, not Chalice's).
    functions = [cfn["Resources"][k] for k in each.resources("AWS::Serverless::Function")]
    assert {f["Type"] for f in functions} == {"AWS::Lambda::Function"}
    assert {f["Properties"]["FunctionName"] for f in functions} == set(each.functions())
    # Every role is ours: SAM generated none (it would if a function lacked a Role).
    assert len(_of_type(cfn, "AWS::IAM::Role")) == len(each.resources("AWS::IAM::Role"))
    assert len(each.resources("AWS::IAM::Role")) == len(functions) + 1  # + the console's BucketDeployment


def test_stream_mappings_report_partial_batch_failures_after_the_transform(each):
    every = _of_type(each.cloudformation, "AWS::Lambda::EventSourceMapping")
    # the others read the work queues (tests/infra/test_queues.py)
    mappings = [m for m in every if m["Properties"]["EventSourceArn"].get("Fn::GetAtt", [None, None])[1] == "StreamArn"]
    streams = each.listing["streams"]
    assert len(mappings) == len(streams) and len(every) == len(streams) + len(RESOURCES.queues)
    for mapping in mappings:
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BisectBatchOnFunctionError"] is True
        assert "Fn::GetAtt" in props["DestinationConfig"]["OnFailure"]["Destination"]
        assert props["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"


def test_schedules_become_eventbridge_rules(each):
    rules = {r["Properties"]["ScheduleExpression"] for r in _of_type(each.cloudformation, "AWS::Events::Rule")}
    expected = set(each.listing["schedules"].values())
    assert rules == expected


def test_the_rest_api_keeps_the_problem_gateway_responses(each):
    (api,) = _of_type(each.cloudformation, "AWS::ApiGateway::RestApi")
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {"MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED"} <= set(responses)
    assert api["Properties"]["Name"] == f"{PREFIX}-api"
