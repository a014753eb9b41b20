"""An in-process HTTP client for the Chalice app, going through the same problem-aware gateway
as ``scelle local`` (so authorizer, routing and error bodies behave as on the server)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.config import Config

from chalicelib.local.gateway import ProblemLocalGateway


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:  # readable assertion failures
        return f"Reply({self.status}, {self.body[:500]!r})"


class ApiClient:
    def __init__(self, app, token: str | None = None) -> None:
        self._gateway = ProblemLocalGateway(app, Config())
        self.token = token

    def with_token(self, token: str | None) -> ApiClient:
        other = ApiClient.__new__(ApiClient)
        other._gateway = self._gateway
        other.token = token
        return other

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                raw: bytes | None = None) -> Reply:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        resp = self._gateway.handle_request(method=method, path=path, headers=hdrs, body=data)
        payload = resp.get("body") or b""
        if resp.get("isBase64Encoded"):
            import base64

            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        headers_out = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        return Reply(resp["statusCode"], headers_out, payload)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)
