"""Where the event-driven handlers listen: stream ARNs of the tables, read at registration.

CDK sets ``SCELLE_STREAM_ARN_<LOGICAL>`` to the real ARN; otherwise (local mode, tests) the ARN
is built from the settings so that the local pump finds the handler by the logical table name
after the last ``-`` of the table name.
"""

from __future__ import annotations

import os


def stream_arn(logical: str) -> str:
    real = os.environ.get(f"SCELLE_STREAM_ARN_{logical.upper()}")
    if real:
        return real
    region, prefix = "eu-west-1", "scelle-local"
    try:
        from chalicelib.config import get_settings

        settings = get_settings()
        region, prefix = settings.region, settings.resource_prefix
    except Exception:  # noqa: S110 - invalid settings fail loudly at the first call, not at import
        pass
    return f"arn:aws:dynamodb:{region}:000000000000:table/{prefix}-{logical}/stream/local"


def local_mode() -> bool:
    """Local-only handlers (the TTL sweeper) are registered unless the app runs in AWS mode."""
    return os.environ.get("SCELLE_MODE", "local") != "aws"
