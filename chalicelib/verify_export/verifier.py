"""Moved to ``scelle_verify.verifier`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.verifier`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import verifier

become(__name__, verifier)
