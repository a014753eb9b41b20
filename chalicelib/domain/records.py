"""Moved to ``scelle_verify.domain.records`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.records`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import records

become(__name__, records)
