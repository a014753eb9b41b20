"""Moved to ``scelle_verify.domain.write_proofs`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.write_proofs`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify.domain import write_proofs

become(__name__, write_proofs)
