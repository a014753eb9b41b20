"""Moved to ``scelle_verify.domain.entries`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.domain.entries`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify.domain import entries

sys.modules[__name__] = entries
