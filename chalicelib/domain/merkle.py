"""Moved to ``scelle_verify.domain.merkle`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.merkle`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify.domain import merkle

sys.modules[__name__] = merkle
