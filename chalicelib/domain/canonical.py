"""Moved to ``scelle_verify.domain.canonical`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.canonical`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import canonical

become(__name__, canonical)
