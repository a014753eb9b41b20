"""The work queues of scheduled work (decision 0028): built from ``RESOURCES.queues``, named as the
app names them, made as the local stack makes them, each wired to its worker one unit at a time,
alarmed, and the schedules reduced to dispatching."""

from __future__ import annotations

import json

import pytest

from chalicelib.local.provision import ensure_queues
from chalicelib.resources import RESOURCES
from infra.stacks.app_model import FunctionSpec
from infra.stacks.data import ITEM_WRITES, WORK_DLQ_RETENTION_DAYS
from infra.stacks.functions import MEMORY, QUEUE_CONSUMER_ACTIONS, TIMEOUTS, _check_consumers
from infra.stacks.permissions import DISPATCHERS, SIGNERS
from tests.infra.iam_scan import allows, covers, function_roles, statements
from tests.infra.test_least_privilege import _holders, _tables

PREFIX = "scelle-prod"
QUEUES = [q.logical for q in RESOURCES.queues]
WORKERS = {q.consumer: q for q in RESOURCES.queues}
# Twice each schedule's period (sign: 5 minutes; close and verify: hourly).
AGE_LIMITS = {"sign-work": 600, "close-work": 7200, "verify-work": 7200}


def _queues(synth) -> dict[str, tuple[str, dict]]:
    """Queue name -> (logical id, properties)."""
    return {r["Properties"]["QueueName"]: (k, r["Properties"]) for k, r in synth.resources("AWS::SQS::Queue").items()
            if "QueueName" in r["Properties"]}


def _queue(synth, logical: str) -> tuple[str, dict]:
    return _queues(synth)[synth.stack.settings.app_settings().queue_name(logical)]


def _function(synth, handler: str) -> dict:
    return synth.functions()[f"{PREFIX}-{handler}"]["Properties"]


def _role_statements(synth, handler: str):
    roles = function_roles(synth.template)
    return [st for st in statements(synth.template)
            if any(roles.get(p) == f"{PREFIX}-{handler}" for p in st.principals)]


def _queue_ids(synth) -> dict[str, str]:
    """Work queue (logical) -> logical id of its resource."""
    return {q: _queue(synth, q)[0] for q in QUEUES}


def _names(st, ids: dict[str, str]) -> set[str]:
    """The work queues (logical) a statement's resources name, by logical id."""
    text = json.dumps(st.resources)
    return {logical for logical, queue_id in ids.items() if f'"{queue_id}"' in text}


# ---- the queues ----------------------------------------------------------------------------------
@pytest.mark.parametrize("logical", QUEUES)
def test_each_work_queue_is_a_high_throughput_fifo_queue_named_as_the_app_names_it(each, logical):
    queue = next(q for q in RESOURCES.queues if q.logical == logical)
    assert each.stack.settings.app_settings().queue_name(logical) == f"{PREFIX}-{logical}.fifo"
    queue_id, props = _queue(each, logical)
    assert props["FifoQueue"] is True
    assert props.get("ContentBasedDeduplication", False) is False  # the sender names each unit
    assert props["DeduplicationScope"] == "messageGroup" and props["FifoThroughputLimit"] == "perMessageGroupId"
    assert props["VisibilityTimeout"] == queue.visibility_timeout_seconds
    assert props["SqsManagedSseEnabled"] is True
    dlq_id, dlq = _queue(each, f"{logical}-dlq")
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                      "maxReceiveCount": queue.max_receives}
    assert dlq["FifoQueue"] is True and dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == WORK_DLQ_RETENTION_DAYS * 86400 == 14 * 86400
    # stated, not AWS's default: the local stack enforces the same size (chalicelib/local/aws_limits.py)
    assert props["MaximumMessageSize"] == dlq["MaximumMessageSize"] == queue.max_message_bytes == 262_144
    for enforced in (queue_id, dlq_id):
        policies = [p["Properties"]["PolicyDocument"]["Statement"]
                    for p in each.resources("AWS::SQS::QueuePolicy").values()
                    if {"Ref": enforced} in p["Properties"]["Queues"]]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for statements_ in policies for s in statements_), enforced


class _FakeSqs:
    def __init__(self):
        self.created: dict[str, dict] = {}

    def create_queue(self, QueueName, Attributes):  # boto3's names
        self.created[QueueName] = Attributes
        return {"QueueUrl": f"https://sqs.local/{QueueName}"}

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:eu-west-1:000000000000:{QueueUrl.rsplit('/', 1)[-1]}"}}


def test_the_local_stack_makes_the_same_queues(real):
    """chalicelib.local.provision.ensure_queues and the stack build from the same definition."""
    sqs = _FakeSqs()
    ensure_queues(sqs, real.stack.settings.app_settings())
    template = _queues(real)
    for name, attributes in sqs.created.items():
        _, props = template[name]
        assert props["FifoQueue"] is True
        assert int(attributes["MaximumMessageSize"]) == props["MaximumMessageSize"]
        if "RedrivePolicy" in attributes:
            assert attributes["DeduplicationScope"] == props["DeduplicationScope"]
            assert attributes["FifoThroughputLimit"] == props["FifoThroughputLimit"]
            assert int(attributes["VisibilityTimeout"]) == props["VisibilityTimeout"]
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["maxReceiveCount"] == props["RedrivePolicy"]["maxReceiveCount"]
        else:
            assert int(attributes["MessageRetentionPeriod"]) == props["MessageRetentionPeriod"]
    work_queues = {real.stack.settings.app_settings().queue_name(q) for q in QUEUES}
    assert work_queues <= set(sqs.created) and len(sqs.created) == 2 * len(QUEUES)


# ---- the workers -------------------------------------------------------------------------------
def test_the_worker_timeouts_are_those_of_the_queues():
    for queue in RESOURCES.queues:
        assert TIMEOUTS[queue.consumer] == queue.consumer_timeout_seconds, queue.consumer
        assert queue.visibility_timeout_seconds >= 6 * TIMEOUTS[queue.consumer]
    assert {q.consumer: TIMEOUTS[q.consumer] for q in RESOURCES.queues} == {
        "sign_chain": 120, "close_chain": 300, "verify_chain": 900}
    assert MEMORY["verify_chain"] == 1024 and "verify_chains" not in MEMORY


@pytest.mark.parametrize("logical", QUEUES)
def test_each_worker_is_wired_to_its_queue_one_unit_at_a_time(each, logical):
    queue = next(q for q in RESOURCES.queues if q.logical == logical)
    fn = _function(each, queue.consumer)
    (event,) = [e for e in fn.get("Events", {}).values() if e["Type"] == "SQS"]
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": [_queue(each, logical)[0], "Arn"]}
    assert event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Lambda refuses a mapping whose function outlives the queue's visibility timeout; AWS advises 6x.
    assert _queue(each, logical)[1]["VisibilityTimeout"] >= 6 * fn["Timeout"]
    assert fn["Timeout"] == queue.consumer_timeout_seconds


def test_no_other_function_reads_a_queue_and_the_mappings_survive_the_transform(each):
    consumers = {f"{PREFIX}-{q.consumer}" for q in RESOURCES.queues}
    for name, fn in each.functions().items():
        sqs_events = [e for e in fn["Properties"].get("Events", {}).values() if e["Type"] == "SQS"]
        assert len(sqs_events) == (name in consumers), name
    mappings = [r["Properties"] for r in each.cloudformation["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"
                and r["Properties"]["EventSourceArn"].get("Fn::GetAtt", [None])[0] in _queue_ids(each).values()]
    assert len(mappings) == len(QUEUES)
    assert all(m["BatchSize"] == 1 and m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)


def test_the_schedules_only_dispatch_in_short_timeouts(each):
    for dispatcher in DISPATCHERS.values():
        assert _function(each, dispatcher)["Timeout"] == TIMEOUTS[dispatcher] == 120, dispatcher
        assert _function(each, dispatcher)["MemorySize"] == 512, dispatcher


def test_a_queue_whose_consumer_is_missing_or_not_a_plain_function_is_refused():
    specs = [FunctionSpec(q.consumer, "lambda") for q in RESOURCES.queues]
    _check_consumers(specs)
    with pytest.raises(ValueError, match="sign_chain"):
        _check_consumers([s for s in specs if s.name != "sign_chain"])
    with pytest.raises(ValueError, match="plain"):
        _check_consumers([FunctionSpec("sign_chain", "schedule"), *specs[1:]])


# ---- least privilege on the queues -----------------------------------------------------------------
CONSUME = set(QUEUE_CONSUMER_ACTIONS)


def test_each_worker_s_role_consumes_its_own_queue_only_and_no_other_role_consumes(each):
    roles = function_roles(each.template)
    ids = _queue_ids(each)
    consumed: dict[str, set[str]] = {}
    for st in statements(each.template):
        if st.effect != "Allow" or not any(allows(st, a) for a in CONSUME):
            continue
        for principal in st.principals:
            handler = roles.get(principal, principal).removeprefix(PREFIX + "-")
            consumed.setdefault(handler, set()).update(_names(st, ids))
            if _names(st, ids):
                assert set(st.actions) == CONSUME, (handler, st.actions)
    consumed = {h: q for h, q in consumed.items() if q}
    assert consumed == {q.consumer: {q.logical} for q in RESOURCES.queues}
    assert CONSUME == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                       "sqs:ChangeMessageVisibility"}


def test_only_the_schedules_and_verify_chain_send_units_each_to_its_own_queue(each):
    roles = function_roles(each.template)
    ids = _queue_ids(each)
    senders: dict[str, set[str]] = {}
    for st in statements(each.template):
        if st.effect != "Allow" or not (allows(st, "sqs:SendMessage") or allows(st, "sqs:GetQueueUrl")):
            continue
        if not _names(st, ids):
            continue  # the stream handlers' own dead-letter queues
        assert set(st.actions) == {"sqs:GetQueueUrl", "sqs:SendMessage"}, st.actions
        for principal in st.principals:
            senders.setdefault(roles[principal].removeprefix(PREFIX + "-"), set()).update(_names(st, ids))
    assert senders == {**{d: {q} for q, d in DISPATCHERS.items()}, "verify_chain": {"verify-work"}}


@pytest.mark.parametrize("dispatcher", sorted(DISPATCHERS.values()))
def test_the_schedules_hold_no_kms_sign_and_no_journal_write(each, dispatcher):
    ids = _tables(each)
    found = _role_statements(each, dispatcher)
    assert found
    for st in found:
        assert not allows(st, "kms:Sign"), f"{st.source}: {dispatcher} may kms:Sign"
        for logical in ("journal", "checkpoints", "keys"):
            if covers(st, ids[logical], f"{PREFIX}-{logical}"):
                assert not any(allows(st, a) for a in ITEM_WRITES), f"{st.source}: {dispatcher} writes {logical}"
    assert dispatcher not in SIGNERS


def test_sign_chain_is_the_only_signer_with_the_log_key_besides_the_stream_and_the_exports(each):
    expected = {"sign_chain", "on_journal_record", "build_export"}
    assert SIGNERS == expected
    assert _holders(each, "kms:Sign", "signing") == expected & each.handler_names()
    assert "sign_chain" in each.handler_names()


# ---- alarms --------------------------------------------------------------------------------------
def _topic(synth) -> str:
    (topic,) = synth.resources("AWS::SNS::Topic")
    return topic


def _sqs_alarms(synth, metric: str, queue_id: str) -> list[dict]:
    dimensions = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    return [r["Properties"] for r in synth.resources("AWS::CloudWatch::Alarm").values()
            if r["Properties"].get("Namespace") == "AWS/SQS" and r["Properties"].get("MetricName") == metric
            and r["Properties"]["Dimensions"] == dimensions]


@pytest.mark.parametrize("logical", QUEUES)
def test_each_dead_letter_queue_alarms_on_its_first_unit(each, logical):
    (alarm,) = _sqs_alarms(each, "ApproximateNumberOfMessagesVisible", _queue(each, f"{logical}-dlq")[0])
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": _topic(each)}] and alarm["OKActions"] == [{"Ref": _topic(each)}]
    assert "docs/operations.md#work-dead-letters" in alarm["AlarmDescription"]


@pytest.mark.parametrize("logical", QUEUES)
def test_each_work_queue_alarms_when_its_oldest_unit_outlives_two_schedule_periods(each, logical):
    (alarm,) = _sqs_alarms(each, "ApproximateAgeOfOldestMessage", _queue(each, logical)[0])
    assert alarm["Threshold"] == AGE_LIMITS[logical] and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": _topic(each)}]


def test_the_runbook_says_what_to_do_when_a_work_dead_letter_queue_alarms():
    from pathlib import Path

    runbook = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    assert '<a id="work-dead-letters"></a>' in runbook
    assert "start-message-move-task" in runbook
