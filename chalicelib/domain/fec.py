"""Moved to ``scelle_verify.domain.fec`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.fec`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import fec

become(__name__, fec)
