"""``witness_checkpoint``: the independent witness as its own function (decision 0024).

Invoked synchronously by the checkpoint signer (``sign_chain``) and by ``build_export``
with a small JSON request (``describe``, ``latest``, ``add``); it answers with the witness's key
and the cosignature, or ``{"refused": {...}}``. It runs under its own role: its KMS key, its
prefix of the write-once bucket, the log's public key. Locally the witness runs in process and
this function is never called.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.wiring import Service, inject

witness_bp = Blueprint(__name__)


@witness_bp.lambda_function(name="witness_checkpoint")
@inject
def witness_checkpoint(event, context, *, witness=Service("witness")):
    from chalicelib.adapters.witness_lambda import handle_witness_request

    if not isinstance(event, dict):
        return {"refused": {"reason": "bad_request", "detail": "the request must be a JSON object"}}
    return handle_witness_request(witness, event)
