"""The OpenAPI document against the server that publishes it: schemathesis generates requests from
``GET /openapi.json`` (valid ones and invalid ones, with a fixed seed and a bounded number of
examples per operation), sends them over HTTP to the app served on 127.0.0.1 on the embedded
stack, and runs every check on the answers: no 5xx, only declared statuses, the declared content
type and response schema, invalid data refused, valid data accepted. Frontends generate their
clients from this document: whatever it allows must work, whatever the server refuses must be
stated in it.

Two checks of our own run on every answer too:

- a valid request refused with a 422 names only fields the operation lists under ``x-rules``
  (the rules a JSON schema cannot state: a checksum, a total, a token this API mailed);
- a refused request (4xx) writes nothing: no DynamoDB write call succeeds, no user or object
  appears, while it is served — except the failed sign-ins that are counted by design.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis

pytestmark = pytest.mark.functional

SEED = 20261205
MAX_EXAMPLES = 10
# Refusals that record something on purpose: a failed sign-in is counted (throttling, lock-out,
# the event journal's aggregated failures; docs/user-guide.md §3), and so is a wrong password
# reset code (its own throttle; docs/user-guide.md §3, "Forgotten password").
WRITES_BY_DESIGN = {("POST", "/v1/auth/signin", status) for status in (401, 403, 429)} | {
    ("POST", "/v1/password-reset/confirm", 422)}
# Threads of local mode's asynchronous work (chalicelib/services/exports.py, adapters/support_dynamodb.py).
BACKGROUND_THREADS = ("export-", "scelle-async")
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


@dataclass
class Writes:
    """What requests change in the embedded AWS: each DynamoDB item a write touches is kept as it
    was before its first write since ``reset``; ``changed`` lists those that now differ (put then
    deleted again, e.g. an idempotency key's in-progress marker, is no change). Users in the pool and
    objects in the buckets are counted."""

    stack: Any
    _before: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _backend: Any = None
    _restore: list[tuple[type, str, Any]] = field(default_factory=list)

    def start(self) -> Writes:
        from moto.dynamodb.models import DynamoDBBackend

        for name in _DYNAMODB_WRITES:
            original = getattr(DynamoDBBackend, name)

            def recorded(backend, *args, _original=original, _name=name, **kwargs):
                self._backend = backend
                for table, key in _keys_written(backend, _name, args, kwargs):
                    self._before.setdefault((table, json.dumps(key, sort_keys=True)), self._item(table, key))
                return _original(backend, *args, **kwargs)

            self._restore.append((DynamoDBBackend, name, original))
            setattr(DynamoDBBackend, name, recorded)
        return self

    def stop(self) -> None:
        for cls, name, original in self._restore:
            setattr(cls, name, original)

    def _item(self, table: str, key: dict[str, Any]) -> str | None:
        item = self._backend.get_item(table, key)
        return None if item is None else json.dumps(item.to_json(), sort_keys=True)

    def reset(self) -> None:
        self._before.clear()

    def changed(self) -> list[str]:
        return [f"{table} {key}" for (table, key), was in self._before.items()
                if self._item(table, json.loads(key)) != was]

    def others(self) -> tuple[int, int]:
        from moto.cognitoidp.models import cognitoidp_backends
        from moto.s3.models import s3_backends

        settings = self.stack.settings
        pools = cognitoidp_backends["123456789012"][settings.region].user_pools
        users = len(pools[settings.user_pool_id].users) if settings.user_pool_id in pools else 0
        buckets = s3_backends["123456789012"]["aws"].buckets
        prefix = settings.bucket_name("")
        return users, sum(len(b.keys) for name, b in buckets.items() if name.startswith(prefix))


def _keys_written(backend, method: str, args: tuple, kwargs: dict) -> list[tuple[str, dict[str, Any]]]:
    """``(table, key)`` of each item a DynamoDB backend write call is about to touch."""
    def key_of(table_name: str, attrs: dict[str, Any]) -> dict[str, Any]:
        table = backend.get_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: attrs[name] for name in names if name in attrs}

    if method == "transact_write_items":
        found = []
        for entry in args[0] if args else kwargs["transact_items"]:
            for op in ("Put", "Update", "Delete"):
                if op in entry:
                    spec = entry[op]
                    found.append((spec["TableName"], key_of(spec["TableName"], spec.get("Item") or spec["Key"])))
        return found
    if method in ("put_item", "update_item", "delete_item"):
        table_name = args[0] if args else kwargs["table_name"]
        attrs = args[1] if len(args) > 1 else kwargs.get("item_attrs") or kwargs.get("key")
        return [(table_name, key_of(table_name, attrs))]
    return []  # batch_write_item: moto's handler calls put_item / delete_item per item


def _rule_fields(operation: dict[str, Any]) -> list[str]:
    return [rule["field"] for rule in operation.get("x-rules", [])]


def _covered(problem_field: str, rule_fields: list[str]) -> bool:
    """``lines.3.vat_rate`` is covered by a rule on ``lines.*.vat_rate`` or on ``lines``."""
    generic = re.sub(r"\.\d+(?=\.|$)", ".*", problem_field)
    return any(generic == f or generic.startswith(f + ".") for f in rule_fields)


def _config(doc: dict[str, Any], admin, other, operator, local_headers: dict[str, str]):
    checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_schema_conformance", "response_headers_conformance", "positive_data_acceptance",
              "negative_data_rejection", "use_after_free", "ensure_resource_availability", "missing_required_header",
              "ignored_auth", "object_level_authorization", "unsupported_method", "allow_header_conformance"]
    operations: list[dict[str, Any]] = [
        {"include-path-regex": "^/v1/operator/", "headers": {"Authorization": f"Bearer {operator.token}"}},
        {"include-path-regex": "^/v1/local/", "headers": local_headers},
        # Signing out ends the session (?everywhere=true: every session): another account's token.
        {"include-path": "/v1/auth/signout", "headers": {"Authorization": f"Bearer {other.token}"}},
    ]
    for ops in doc["paths"].values():
        for op in ops.values():
            if _rule_fields(op):  # a valid request may break a rule no schema states: the documented 422
                statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
                operations.append({"include-operation-id": op["operationId"],
                                   "checks": {"positive_data_acceptance": {"expected-statuses": statuses}}})
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "workers": 1,
        "headers": {"Authorization": f"Bearer {admin.token}"},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none", "deterministic": True},
        # Tenant routes in the admin's own tenant: past the membership check, into the handlers.
        "parameters": {"path.tenant_id": admin.tenant_id},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in checks}},
        "operations": operations,
    })


@dataclass
class Run:
    requests: int = 0
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    unstated_rules: list[str] = field(default_factory=list)
    refused_writes: list[str] = field(default_factory=list)


def test_the_openapi_document_states_what_the_server_enforces(api, stack):
    from schemathesis.engine import Status, events, from_schema

    from app import app
    from tests.support.http_server import HttpServer
    from tests.support.operators import operator_account
    from tests.support.users import local_operator_headers, signed_up_account

    admin = signed_up_account(api, stack)
    other = signed_up_account(api, stack)
    operator = operator_account(api)
    doc = api.get("/openapi.json").json
    by_label = {f"{m.upper()} {p}": op for p, ops in doc["paths"].items() for m, op in ops.items()}
    run = Run()
    writes = Writes(stack).start()
    server = HttpServer(app, name="openapi-fuzz")
    hooks: list = []
    try:
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/openapi.json",
                                               config=_config(doc, admin, other, operator, local_operator_headers()))
        others = {"before": writes.others()}

        def settle() -> None:
            # Work a request hands to a thread (an export build, a mailing's audience) writes on after
            # the answer: let it finish, so that the next request is judged on its own writes alone.
            for thread in threading.enumerate():
                if thread.name.startswith(BACKGROUND_THREADS):
                    thread.join(timeout=60)
            writes.reset()
            others["before"] = writes.others()

        def before_call(ctx, case, kwargs):
            settle()

        def after_call(ctx, case, response):
            status = response.status_code
            label = f"{case.method.upper()} {case.operation.path}"
            run.statuses[status] += 1
            if 400 <= status < 500 and (case.method.upper(), case.operation.path, status) not in WRITES_BY_DESIGN:
                changed = writes.changed() + (["users or objects"] if writes.others() != others["before"] else [])
                if changed:
                    run.refused_writes.append(f"{label} -> {status}: {changed[:3]} {response.text[:200]}")
            settle()  # also where a phase calls without before_call
            mode = getattr(getattr(case.meta, "generation", None), "mode", None)
            if status == 422 and mode is not None and mode.is_positive:
                fields = [e.get("field", "") for e in (response.json().get("errors") or [])]
                rule_fields = _rule_fields(by_label.get(label, {}))
                unstated = [f for f in fields if not _covered(f, rule_fields)]
                if unstated:
                    run.unstated_rules.append(f"{label}: {unstated} in {response.text[:300]}")

        hooks += [schemathesis.hook(before_call), schemathesis.hook(after_call)]  # global: undone below
        started = time.monotonic()
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                recorder = event.recorder
                run.requests += len(recorder.interactions)
                for checks in recorder.checks.values():
                    for check in checks:
                        run.checks += 1
                        if check.status == Status.FAILURE and check.failure_info is not None:
                            failure = check.failure_info.failure
                            run.failures.append(f"{recorder.label}: {check.name}: {failure.title} "
                                                f"{(failure.message or '')[:300]} | "
                                                f"{check.failure_info.code_sample[:400]}")
            elif isinstance(event, events.NonFatalError | events.FatalError):
                run.failures.append(f"error in {getattr(event, 'label', '?')}: {getattr(event, 'info', event)}")
        elapsed = time.monotonic() - started
    finally:
        from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

        for hook in hooks:
            GLOBAL_HOOK_DISPATCHER.unregister(hook)
        server.stop()
        writes.stop()
    print(f"\nschemathesis {schemathesis.__version__}, seed {SEED}: {run.requests} requests, {run.checks} checks, "
          f"{len(run.failures)} failures in {elapsed:.1f} s; statuses {dict(sorted(run.statuses.items()))}")
    for line in sorted(set(run.failures)) + run.unstated_rules + run.refused_writes:
        print(" -", line.replace("\n", " "))
    assert run.requests > 500, run
    assert not any(status >= 500 for status in run.statuses), run.statuses
    assert sorted(set(run.failures)) == []
    assert run.unstated_rules == []
    assert run.refused_writes == []
