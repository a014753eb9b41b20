"""On-demand checkpoints through the signing function (issue 14 item 7): the API's adapter and
the function's handler agree, refusals included, so the API needs no kms:Sign."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.checkpoint_requests import LambdaCheckpointSigning, handle_sign_request
from chalicelib.adapters.checkpoint_store import InMemoryCheckpointStore
from chalicelib.adapters.memory_chain_store import InMemoryChainStore
from chalicelib.adapters.signing import LocalSigner
from chalicelib.domain.checkpoint import SigningRefused
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.records import chain_key
from chalicelib.services.checkpoints import CheckpointCadence, CheckpointService, KeyRegistry
from chalicelib.services.sealing import ChainWriter

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)


class SigningFunction:
    """Lambda's synchronous invoke of sign_checkpoints, in process (JSON in, JSON out)."""

    def __init__(self, checkpoints) -> None:
        self.checkpoints = checkpoints
        self.requests = []

    def invoke(self, *, FunctionName, InvocationType, Payload):  # boto3's parameter names
        request = json.loads(Payload)
        self.requests.append((FunctionName, InvocationType, request))
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(handle_sign_request(self.checkpoints, request))
                                                         .encode())}


@pytest.fixture
def stack(tmp_path):
    store, checkpoints_store = InMemoryChainStore(), InMemoryCheckpointStore()
    signer = LocalSigner(tmp_path)
    keys = KeyRegistry(checkpoints_store, signer, clock=lambda: T0)
    keys.ensure_current()
    service = CheckpointService(store, checkpoints_store, signer, keys, clock=lambda: T0 + timedelta(hours=1))
    writer = ChainWriter(store, clock=lambda: T0 + timedelta(minutes=1))
    return store, service, writer


def test_the_api_gets_the_checkpoint_the_signing_function_signed(stack):
    _store, service, writer = stack
    for i in range(3):
        writer.append("t1", "prod.sales.R1", "memo", {"n": i}, training=False)
    function = SigningFunction(service)
    signed = LambdaCheckpointSigning(function, "scelle-sign_checkpoints").checkpoint("t1", "prod.sales.R1")
    assert (signed.size, signed.root) == (3, service.latest("t1", "prod.sales.R1").checkpoint.root)
    assert function.requests == [("scelle-sign_checkpoints", "RequestResponse",
                                  {"action": "sign", "tenant_id": "t1", "chain": "prod.sales.R1"})]
    assert LambdaCheckpointSigning(function, "f").checkpoint("t1", "prod.sales.R9") is None  # no entry yet


def test_a_refusal_comes_back_as_the_same_refusal(stack):
    store, service, writer = stack
    for i in range(3):
        writer.append("t1", "prod.sales.R1", "memo", {"n": i}, training=False)
    store._chains[chain_key("t1", "prod.sales.R1")][2]["data"] = {"n": 999}  # rewritten behind its back
    with pytest.raises(SigningRefused) as refused:
        LambdaCheckpointSigning(SigningFunction(service), "f").checkpoint("t1", "prod.sales.R1")
    assert (refused.value.reason, refused.value.first_bad_seq) == ("hash_mismatch", 2)


def test_a_function_error_is_unavailable_not_a_refusal():
    class Broken:
        def invoke(self, **kwargs):
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "x"}')}

    with pytest.raises(Unavailable):
        LambdaCheckpointSigning(Broken(), "f").checkpoint("t1", "prod.sales.R1")


def test_the_cadence_signs_at_every_nth_entry_only(stack):
    _store, service, writer = stack
    cadence = CheckpointCadence(service, 4)
    for i in range(9):
        cadence.after_entry(writer.append("t1", "prod.sales.R1", "memo", {"n": i}, training=False))
    assert [s.checkpoint.size for s in service.list("t1", "prod.sales.R1")] == [4, 8]


def test_a_request_over_lambdas_payload_limit_is_refused_before_any_call():
    from chalicelib.adapters.lambda_requests import MAX_SYNC_PAYLOAD, invoke_json

    class NeverCalled:
        def invoke(self, **kwargs):
            raise AssertionError("invoked")

    with pytest.raises(ValueError, match="over the"):
        invoke_json(NeverCalled(), "f", {"blob": "x" * MAX_SYNC_PAYLOAD}, what="the witness")
