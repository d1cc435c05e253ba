"""The training process: Axolotl's own `axolotl.cli.train`, run after its imports are frozen
out of the garbage collector.

    accelerate launch ... -m axowrap.run.train_main axolotl.yaml

`python -m axolotl.cli.train` imports torch, transformers, Axolotl (and the trackers the config
turns on) as it goes: ~700k objects that live as long as the process. CPython's collector
scans every one of them at each full collection. Measured on the tiny CPU training (Python
3.11): 28 full collections of 0.35-0.5 s each, ~9 s of a 27 s process. So this module first
imports what `axolotl.cli.train` will import anyway, with the collector off, and then calls
`gc.freeze()`, the pattern Python's documentation gives for long-lived objects. Frozen objects
are never scanned again; nothing created later is frozen, so models, datasets and trainers are
collected as before.

What it imports is read from Axolotl: `axolotl.cli.train`'s lazy imports (`_LAZY_IMPORTS`),
plus each tracker package that the config's `use_<tracker>` turns on (tracking/keys.py). An import
that fails here is left to fail where Axolotl makes it, with Axolotl's own error. Then
`axolotl.cli.train` runs as `__main__` with this process's arguments, exactly as `-m` runs it.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import runpy
import sys
from typing import Any

from axowrap.preload import preload

ENTRY = "axolotl.cli.train"


def preloads(config_path: str | None) -> list[str]:
    """The modules the training will import: Axolotl's lazy imports, then enabled trackers."""
    try:
        lazy = getattr(importlib.import_module(ENTRY), "_LAZY_IMPORTS", {})
    except Exception:  # Axolotl reports its own import errors, as it would without this module
        return []
    return sorted(set(lazy.values())) + trackers(config_path)


def trackers(config_path: str | None) -> list[str]:
    from axowrap.tracking.keys import PACKAGES

    config: Any = None
    if config_path:
        try:
            import yaml

            with open(config_path, encoding="utf-8") as f:
                config = yaml.safe_load(f)
        except Exception:  # Axolotl reads the config next and says what is wrong with it
            return []
    if not isinstance(config, dict):
        return []
    return [package for name, package in PACKAGES.items() if config.get(f"use_{name}")]


def main() -> None:
    config_path = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    # Registered first, so it runs last: Python's final collections then see the frozen objects
    # too (extensions such as nanobind's report objects left uncollected at exit as leaks).
    atexit.register(gc.unfreeze)
    preload(preloads(config_path))
    gc.freeze()
    sys.modules.pop(ENTRY, None)  # run afresh as __main__, as `python -m` does
    runpy.run_module(ENTRY, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
