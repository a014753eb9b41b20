"""Moved to ``scelle_verify.domain.merkle`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.merkle`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import merkle

become(__name__, merkle)
