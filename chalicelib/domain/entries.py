"""Moved to ``scelle_verify.domain.entries`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.entries`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import entries

become(__name__, entries)
