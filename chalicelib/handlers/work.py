"""The workers of scheduled work (decision 0028): one SQS message is one unit, one job on one chain.

Each worker is a plain Lambda function; its SQS event source mapping comes from
``RESOURCES.queues`` (the CDK stack wires it, the local stack's queue pump calls it), with partial
batch responses: a unit that fails is retried by SQS after its visibility timeout, then goes to
the dead-letter queue and its alarm. A message that is not a unit is logged and dropped: retrying
cannot mend it. ``sign_chain`` also answers the API's synchronous on-demand signing requests
(``{"action": "sign"}``, chalicelib/adapters/checkpoint_requests.py): a plain function receives
the payload as sent, where a schedule handler's would have to be an EventBridge event.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from chalice import Blueprint

from chalicelib.wiring import Service, inject

work_bp = Blueprint(__name__)


def process_units(event, job: str, run_one: Callable) -> dict:
    from chalicelib.domain.errors import ValidationFailed
    from chalicelib.observability import logger
    from chalicelib.ports.work import ChainUnit

    failures = []
    for record in (event or {}).get("Records", []):
        try:
            unit = ChainUnit.from_message(json.loads(record.get("body") or ""))
            if unit.job != job:
                raise ValidationFailed(f"a {unit.job} unit on the {job} queue", field="job")
        except (ValueError, ValidationFailed) as exc:
            logger.error("not a unit of scheduled work: dropped", extra={"message_id": record.get("messageId"),
                                                                         "job": job, "error": str(exc)})
            continue
        try:
            run_one(unit)
        except Exception:
            logger.exception("a unit of scheduled work failed; SQS retries it",
                             extra={"job": job, "tenant_id": unit.tenant_id, "chain": unit.chain})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


@work_bp.lambda_function(name="sign_chain")
@inject
def sign_chain(event, context, *, checkpoints=Service("chain_checkpoints"),
               checkpoint_signer=Service("checkpoint_signer")):
    from chalicelib.observability import flush_metrics

    try:
        if isinstance(event, dict) and event.get("action") == "sign":
            from chalicelib.adapters.checkpoint_requests import handle_sign_request

            return handle_sign_request(checkpoints, event)
        return process_units(event, "sign", lambda unit: _sign_one(checkpoint_signer, unit))
    finally:
        flush_metrics()


def _sign_one(checkpoint_signer, unit) -> None:
    run = checkpoint_signer.run_chain(unit.tenant_id, unit.chain)
    if run.errors:  # a refusal (tampering) is alarmed and final; an error is worth a retry
        raise RuntimeError("; ".join(error for _, _, error in run.errors))


@work_bp.lambda_function(name="close_chain")
@inject
def close_chain(event, context, *, ledger=Service("ledger")):
    from chalicelib.observability import flush_metrics

    try:
        return process_units(event, "close", lambda unit: _close_one(ledger, unit))
    finally:
        flush_metrics()


def _close_one(ledger, unit) -> None:
    from chalicelib.observability import count

    try:
        written = ledger.close_due_periods(unit.tenant_id, unit.chain)
    except Exception:
        count("ClosureFailures")
        raise
    if written:
        count("ClosuresWritten", len(written))


@work_bp.lambda_function(name="verify_chain")
@inject
def verify_chain(event, context, *, chain_verification_work=Service("chain_verification_work")):
    from chalicelib.observability import flush_metrics

    try:
        return process_units(event, "verify", chain_verification_work.run)
    finally:
        flush_metrics()
