"""One entry point for every benchmark: `python bench/run.py [NAME ...]`.

Each benchmark prints its figures and checks its stated targets; the exit code is 1 when
any target is missed, so this runs the same on a laptop, CI or a GPU machine.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Targets, machine

BENCHMARKS = [
    "cli_latency",
    "datacheck",
    "hub_data",
    "demo",
    "eval",
    "team_check",
    "validation",
    "wrapper_overhead",
    "tracking",
    "packing",
    "export",
    "plan_published",
    "gpu",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    targets = Targets()
    print(f"machine: {machine()}")
    for name in names:
        print(f"\n== {name}")
        importlib.import_module(name).main(targets)
    print(f"\n{len(targets.missed)} target(s) missed" + (f": {', '.join(targets.missed)}" if targets.missed else ""))
    return 1 if targets.missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
