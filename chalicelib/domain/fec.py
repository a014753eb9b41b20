"""Moved to ``scelle_verify.domain.fec`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.fec`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify.domain import fec

sys.modules[__name__] = fec
