"""Moved to ``scelle_verify.domain.verification`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.verification`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import verification

become(__name__, verification)
