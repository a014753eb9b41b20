"""Moved to ``scelle_verify.completeness`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.completeness`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import completeness

become(__name__, completeness)
