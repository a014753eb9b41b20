"""Moved to ``scelle_verify.domain.errors`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.errors`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import errors

become(__name__, errors)
