"""Reads every IAM policy statement of a synthesized template and finds forbidden grants.

Independent of how the stack builds its roles: it looks only at the template, so a grant added by
any means (a new construct, ``grant_*`` helpers, a managed policy) is caught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

# What may never be allowed on an append-only table.
APPEND_ONLY_FORBIDDEN = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",  # a batch may hold DeleteRequests
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLSelect",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTimeToLive",
)


@dataclass(frozen=True)
class Statement:
    source: str  # logical id of the policy / role holding it
    principals: tuple[str, ...]  # role logical ids it applies to
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[Any, ...]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: dict[str, Any]) -> list[Statement]:
    found: list[Statement] = []

    def add(source: str, principals: list[str], document: dict[str, Any]) -> None:
        for st in _as_list(document.get("Statement", [])):
            found.append(
                Statement(
                    source,
                    tuple(principals),
                    st.get("Effect", "Allow"),
                    tuple(_as_list(st.get("Action", []))),
                    tuple(_as_list(st.get("NotAction", []))),
                    tuple(_as_list(st.get("Resource", st.get("NotResource", "*")))),
                )
            )

    for logical, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            roles = [r["Ref"] for r in props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]
            principals = (
                roles
                + [f"user:{u}" for u in _as_list(props.get("Users", []))]
                + [f"group:{g}" for g in _as_list(props.get("Groups", []))]
            )
            add(logical, principals, props["PolicyDocument"])
        elif res["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for policy in props.get("Policies", []):
                add(logical, [logical], policy["PolicyDocument"])
            if props.get("ManagedPolicyArns"):
                add(
                    logical,
                    [logical],
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["<managed policy>"],
                                "Resource": props["ManagedPolicyArns"],
                            }
                        ]
                    },
                )
        elif res["Type"] == "AWS::Serverless::Function" and props.get("Policies"):
            add(
                logical,
                [f"sam:{logical}"],
                {"Statement": [{"Effect": "Allow", "Action": ["<SAM policy template>"], "Resource": "*"}]},
            )
    return found


def allows(statement: Statement, action: str) -> bool:
    """True if the statement allows ``action`` (wildcards and NotAction included)."""
    if statement.effect != "Allow":
        return False
    if statement.not_actions:
        return not any(fnmatchcase(action.lower(), p.lower()) for p in statement.not_actions)
    return any(fnmatchcase(action.lower(), p.lower()) for p in statement.actions) or any(
        a.startswith("<") for a in statement.actions
    )


def covers(statement: Statement, logical_id: str, physical_name: str) -> bool:
    """True if a statement's resources may include the given table (by Ref/GetAtt or by name)."""
    for resource in statement.resources:
        text = json.dumps(resource)
        if resource == "*" or logical_id in text or f"table/{physical_name}" in text:
            return True
        if isinstance(resource, str) and "table/" in resource and "*" in resource.split("table/", 1)[1]:
            if fnmatchcase(physical_name, resource.split("table/", 1)[1].split("/", 1)[0]):
                return True
    return False


def function_roles(template: dict[str, Any]) -> dict[str, str]:
    """Role logical id -> function name, from each function's ``Role`` GetAtt."""
    out = {}
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            role = res["Properties"].get("Role")
            if isinstance(role, dict) and "Fn::GetAtt" in role:
                out[role["Fn::GetAtt"][0]] = res["Properties"].get("FunctionName", "?")
    return out
