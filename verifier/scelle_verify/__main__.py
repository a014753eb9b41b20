"""``python -m scelle_verify EXPORT.zip`` and ``python3 scelle-verify.pyz EXPORT.zip``."""

import sys

from scelle_verify.cli import main

sys.exit(main())
