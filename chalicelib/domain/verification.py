"""Moved to ``scelle_verify.domain.verification`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.verification`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify.domain import verification

sys.modules[__name__] = verification
