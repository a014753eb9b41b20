"""Moved to ``scelle_verify.domain.vat`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.vat`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import vat

become(__name__, vat)
