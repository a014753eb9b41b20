"""One synchronous JSON request to another Lambda function (the witness, the signing function):
what both their clients share. Anything but a JSON object back is ``Unavailable``."""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import Unavailable


def invoke_json(lambda_client, function_name: str, request: dict, *, what: str) -> dict:
    try:
        resp = lambda_client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                    Payload=json.dumps(request).encode())
    except (ClientError, BotoCoreError) as exc:
        raise Unavailable(f"{what} could not be reached: {exc}") from exc
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError") or not isinstance(body, dict):
        raise Unavailable(f"{what} failed: {str(body)[:300]}")
    return body
