"""On-demand checkpoints through the signing function (AWS; decision 0022, issue 14 item 7).

``POST …/checkpoints`` must answer with a signed checkpoint, but the internet-facing API function
holds no ``kms:Sign``: it invokes ``sign_chain`` (chalicelib/handlers/work.py) synchronously with
``{"action": "sign", "tenant_id", "chain"}`` and gets the checkpoint text back, or the refusal.
The tenant and chain come from the API's own access check, never from the caller's body alone."""

from __future__ import annotations

from chalicelib.adapters.lambda_requests import invoke_json
from chalicelib.domain.checkpoint import Checkpoint, SigningRefused


class LambdaCheckpointSigning:
    def __init__(self, lambda_client, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name

    def checkpoint(self, tenant_id: str, chain: str) -> Checkpoint | None:
        request = {"action": "sign", "tenant_id": tenant_id, "chain": chain}
        body = invoke_json(self._lambda, self._function, request, what="the signing function")
        if "refused" in body:
            refused = body["refused"]
            raise SigningRefused(refused.get("detail", ""), reason=refused.get("reason", "refused"),
                                 first_bad_seq=refused.get("first_bad_seq"))
        text = body.get("checkpoint")
        return Checkpoint.from_text(text) if text else None


def handle_sign_request(checkpoints, request: dict) -> dict:
    """The signing function's side of one request."""
    tenant_id, chain = request.get("tenant_id"), request.get("chain")
    if not (isinstance(tenant_id, str) and isinstance(chain, str)):
        return {"refused": {"reason": "bad_request", "detail": "tenant_id and chain must be strings"}}
    try:
        signed = checkpoints.checkpoint(tenant_id, chain)
    except SigningRefused as exc:
        return {"refused": {"reason": exc.reason, "detail": exc.detail, "first_bad_seq": exc.first_bad_seq}}
    return {"checkpoint": signed.to_text() if signed is not None else None}
