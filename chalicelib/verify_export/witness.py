"""Moved to ``scelle_verify.witness`` (verifier/, the offline verifier's own distribution, which this
package reuses): ``chalicelib.verify_export.witness`` is that very module, its private names and
monkeypatching included (docs/architecture.md)."""

import sys

from scelle_verify import witness

sys.modules[__name__] = witness
