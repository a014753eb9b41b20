"""Moved to ``scelle_verify.domain.identifiers`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.identifiers`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import identifiers

become(__name__, identifiers)
