"""Moved to ``scelle_verify.signatures`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.ports.signatures`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import signatures

become(__name__, signatures)
