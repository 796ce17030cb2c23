"""Run every benchmark module in this folder (``python -m benchmarks [NAME...]``).

Each module ``bench_*.py`` defines ``run() -> list[str]``: lines of figures, each with the
peer it was measured against and the ratio. Record the output in docs/benchmarks.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    chosen = [m for m in modules if not names or m.removeprefix("bench_") in names]
    if not chosen:
        print("no benchmarks yet" if not modules else f"no benchmark named {names}")
        return 0 if not modules else 2
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}")
        for line in module.run():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
