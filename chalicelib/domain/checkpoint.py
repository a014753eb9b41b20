"""Moved to ``scelle_verify.domain.checkpoint`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.checkpoint`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify.domain import checkpoint

sys.modules[__name__] = checkpoint
