"""Moved to ``scelle_verify.format`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.format`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import format

become(__name__, format)
