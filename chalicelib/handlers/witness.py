"""``witness_checkpoint``: the independent witness as its own function (decision 0024).

Invoked synchronously by the checkpoint signer (``sign_checkpoints``) and by ``build_export``
with a small JSON request (``describe``, ``latest``, ``add``); it answers with the witness's key
and the cosignature, or ``{"refused": {...}}``. It runs under its own role: its KMS key, its
prefix of the write-once bucket, the log's public key. Locally the witness runs in process and
this function is never called.
"""

from __future__ import annotations

from chalice import Blueprint

witness_bp = Blueprint(__name__)


@witness_bp.lambda_function(name="witness_checkpoint")
def witness_checkpoint(event, context):
    from chalicelib import bootstrap
    from chalicelib.adapters.witness_lambda import handle_witness_request

    if not isinstance(event, dict):
        return {"refused": {"reason": "bad_request", "detail": "the request must be a JSON object"}}
    return handle_witness_request(bootstrap.container().witness, event)
