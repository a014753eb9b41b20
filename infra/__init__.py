"""Scellé's AWS infrastructure: a CDK app around the Chalice app (see docs/decisions/0005-infra.md)."""

import os

# jsii prints a banner on every import when node is older than it likes (node 20 works).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
