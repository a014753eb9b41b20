"""Signs in as the demo admin that `scelle local` seeds on first start (credentials are in
<data dir>/demo.json, readable only by the owner)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path


def local_demo_login(base: str, data_dir: Path) -> tuple[str, str]:
    demo = json.loads((data_dir / "demo.json").read_text())
    body = json.dumps({"email": demo["admin"]["email"], "password": demo["admin"]["password"]}).encode()
    req = urllib.request.Request(base + "/v1/auth/signin", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        tokens = json.loads(resp.read())
    return tokens["id_token"], demo["tenant_id"]
