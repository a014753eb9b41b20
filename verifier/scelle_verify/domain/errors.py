"""The errors the product raises on purpose.

Every error a caller can cause is a ``ScelleError``. The HTTP layer maps each class to a
status and an RFC 9457 problem object in one place (``chalicelib.api.problems``); the domain
never knows about HTTP. ``field`` names the input at fault as a dotted path (``lines.0.vat_rate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


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
    """The input is well-formed JSON but breaks a rule; nothing was written.

    One error may stand for several (``ValidationFailed.gather``): its ``field`` and ``detail``
    are the first one's and ``problems()`` lists them all, so a request with three wrong fields
    is answered once with the three of them.
    """

    code = "validation-failed"
    title = "Invalid input"

    def problems(self) -> list[dict[str, str | None]]:
        """Every problem this error stands for, as ``{"field", "detail"}`` items, in order."""
        gathered = self.extra.get("errors")
        if isinstance(gathered, list) and gathered:
            return [dict(item) for item in gathered]
        return [{"field": self.field, "detail": self.detail}]

    @classmethod
    def gather(cls, found: Iterable[ValidationFailed]) -> ValidationFailed:
        """One error listing every problem of ``found`` (flattened, in order)."""
        items = [item for error in found for item in error.problems()]
        if not items:
            raise ValueError("nothing to gather")
        first = items[0]
        detail = str(first["detail"])
        if len(items) > 1:
            detail += f" (and {len(items) - 1} more problem{'s' if len(items) > 2 else ''}: see errors)"
        return cls(detail, field=first["field"], errors=items)


class Findings:
    """Runs independent checks and keeps every ``ValidationFailed`` they raise, so that one answer
    names every field at fault instead of the first only.

    ``check(fn, *args)`` returns ``fn(*args)``, or ``None`` when it raised ``ValidationFailed``
    (kept); ``raise_if_any()`` raises them together (``ValidationFailed.gather``).
    """

    def __init__(self) -> None:
        self.found: list[ValidationFailed] = []

    def __bool__(self) -> bool:
        return bool(self.found)

    def check(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            self.found.append(exc)
            return None

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationFailed.gather(self.found)


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
