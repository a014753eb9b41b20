"""Moved to ``scelle_verify.witness`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.witness`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import witness

become(__name__, witness)
