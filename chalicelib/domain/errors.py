"""The errors the product raises on purpose.

Every error a caller can cause is a ``ScelleError``. The HTTP layer maps each class to a
status and an RFC 9457 problem object in one place (``chalicelib.api.problems``); the domain
never knows about HTTP. ``field`` names the input at fault as a dotted path (``lines.0.vat_rate``).
"""

from __future__ import annotations


class ScelleError(Exception):
    """Root of every deliberate error. ``code`` is stable and becomes the problem ``type``."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class ValidationFailed(ScelleError):
    """The input is well-formed JSON but breaks a rule; nothing was written."""

    code = "validation-failed"
    title = "Invalid input"


class NotFound(ScelleError):
    code = "not-found"
    title = "Not found"


class Conflict(ScelleError):
    """The request contradicts the current state (duplicate, already reversed, key reused)."""

    code = "conflict"
    title = "Conflict"


class Unauthenticated(ScelleError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(ScelleError):
    code = "forbidden"
    title = "Forbidden"


class TooManyRequests(ScelleError):
    code = "too-many-requests"
    title = "Too many requests"


class SequenceConflict(ScelleError):
    """Another writer took this sequence number first; the caller re-reads the head and retries."""

    code = "sequence-conflict"
    title = "Sequence number already taken"


class ChainBusy(ScelleError):
    """Retries on a contended chain ran out; safe to retry the same request later."""

    code = "chain-busy"
    title = "Chain busy, retry later"


class Unavailable(ScelleError):
    """A dependency (table, bucket, key) cannot be reached."""

    code = "unavailable"
    title = "Service unavailable"
