"""The witness reached through its own Lambda function (AWS; decision 0024).

The function (``witness_checkpoint``, chalicelib/handlers/witness.py) runs under its own role
with its own KMS key and write access to its view only; the signer holds nothing but
``lambda:InvokeFunction`` on it. Requests and answers are small JSON documents (far under
Lambda's 6 MB synchronous payload limit: a proof is at most 64 hashes)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.lambda_requests import invoke_json
from chalicelib.domain.checkpoint import Checkpoint
from chalicelib.domain.errors import ScelleError
from chalicelib.domain.witness import Cosignature, WitnessBehind, WitnessRefused


class LambdaWitnessClient:
    def __init__(self, lambda_client, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name
        self._key_id: str | None = None
        self._public_pem: str | None = None

    def _call(self, request: dict) -> dict:
        body = invoke_json(self._lambda, self._function, request, what="the witness")
        if "refused" in body:
            refused = body["refused"]
            if refused.get("reason") == "size_mismatch":
                raise WitnessBehind(refused.get("detail", ""), known_size=int(refused.get("known_size", 0)))
            raise WitnessRefused(refused.get("detail", ""), reason=refused.get("reason", "refused"),
                                 size=refused.get("size"))
        self._key_id = body.get("witness_key_id", self._key_id)
        self._public_pem = body.get("public_key_pem", self._public_pem)
        return body

    @property
    def key_id(self) -> str:
        if self._key_id is None:
            self._call({"action": "describe"})
        return self._key_id or ""

    def public_key_pem(self) -> str:
        if self._public_pem is None:
            self._call({"action": "describe"})
        return self._public_pem or ""

    def latest(self, chain_key: str) -> Cosignature | None:
        text = self._call({"action": "latest", "chain_key": chain_key}).get("cosignature")
        return Cosignature.from_text(text) if text else None

    def add_checkpoint(self, checkpoint: Checkpoint, old_size: int, proof: Sequence[bytes]) -> Cosignature:
        body = self._call({"action": "add", "checkpoint": checkpoint.to_text(), "old_size": old_size,
                           "proof": [h.hex() for h in proof]})
        return Cosignature.from_text(body["cosignature"])


def handle_witness_request(witness, request: dict) -> dict:
    """The function's side: one request of ``LambdaWitnessClient`` against a ``Witness``."""
    described = {"witness_key_id": witness.key_id, "public_key_pem": witness.public_key_pem()}
    action = request.get("action")
    try:
        if action == "describe":
            return described
        if action == "latest":
            found = witness.latest(str(request.get("chain_key", "")))
            return {**described, "cosignature": found.to_text() if found else None}
        if action == "add":
            checkpoint = Checkpoint.from_text(str(request["checkpoint"]))
            proof = [bytes.fromhex(h) for h in request.get("proof", [])]
            cosigned = witness.add_checkpoint(checkpoint, int(request["old_size"]), proof)
            return {**described, "cosignature": cosigned.to_text()}
    except WitnessBehind as exc:
        return {"refused": {"reason": "size_mismatch", "detail": exc.detail, "known_size": exc.known_size}}
    except WitnessRefused as exc:
        return {"refused": {"reason": exc.reason, "detail": exc.detail, "size": exc.size}}
    except (KeyError, ValueError, TypeError, ScelleError) as exc:
        return {"refused": {"reason": "bad_request", "detail": f"malformed witness request: {exc}"}}
    return {"refused": {"reason": "bad_request", "detail": f"unknown action {action!r}"}}
