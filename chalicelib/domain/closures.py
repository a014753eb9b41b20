"""Moved to ``scelle_verify.domain.closures`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.closures`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import closures

become(__name__, closures)
