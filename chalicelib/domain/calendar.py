"""Moved to ``scelle_verify.domain.calendar`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.calendar`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import calendar

become(__name__, calendar)
