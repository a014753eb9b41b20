"""The SAM template Chalice writes, with our overrides, transforms into valid CloudFormation."""

from __future__ import annotations

PREFIX = "scelle-prod"


def _of_type(cfn, type_):
    return [r for r in cfn["Resources"].values() if r["Type"] == type_]


def test_the_sam_transform_accepts_the_template_and_creates_no_role_of_its_own(each):
    cfn = each.cloudformation

    functions = _of_type(cfn, "AWS::Lambda::Function")
    assert {f["Properties"]["FunctionName"] for f in functions} == set(each.functions())
    # One role per function, all ours: SAM generated none (it would if a function lacked a Role).
    assert len(_of_type(cfn, "AWS::IAM::Role")) == len(functions)


def test_stream_mappings_report_partial_batch_failures_after_the_transform(each):
    mappings = _of_type(each.cloudformation, "AWS::Lambda::EventSourceMapping")
    streams = each.listing["streams"]
    assert len(mappings) == len(streams)
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
