"""One synchronous JSON request to another Lambda function (the witness, the signing function):
what both their clients share. Anything but a JSON object back is ``Unavailable``."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import Unavailable

# Lambda's payload limits (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): 6 MB for
# a synchronous invocation (request and answer), 1 MB for an asynchronous one. Every request this
# code sends is a few ids, a checkpoint text and at most 64 hashes (a few KB): a bigger one is a bug.
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024


def checked_payload(request: dict, limit: int) -> bytes:
    payload = json.dumps(request).encode()
    if len(payload) > limit:
        raise ValueError(f"a Lambda payload of {len(payload)} bytes is over the {limit}-byte limit")
    return payload


def invoke_json(lambda_client, function_name: str, request: dict, *, what: str) -> dict:
    payload = checked_payload(request, MAX_SYNC_PAYLOAD)
    try:
        resp = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                    Payload=payload)
    except (ClientError, BotoCoreError) as exc:
        raise Unavailable(f"{what} could not be reached: {exc}") from exc
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError") or not isinstance(body, dict):
        raise Unavailable(f"{what} failed: {str(body)[:300]}")
    return body
