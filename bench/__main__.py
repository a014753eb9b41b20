"""`python -m bench` (or `make bench`): run every benchmark with its default sizes."""

from __future__ import annotations

import importlib
import pkgutil
import sys


def main() -> int:
    import bench

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    for name in names:
        if only and name not in only:
            continue
        importlib.import_module(f"bench.{name}").main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
