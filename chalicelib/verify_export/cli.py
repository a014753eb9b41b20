"""Moved to ``scelle_verify.cli`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.cli`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

from chalicelib.domain.moved import become
from scelle_verify import cli

become(__name__, cli)
