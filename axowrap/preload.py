"""Importing modules ahead of their use, with the garbage collector paused.

Importing the training stack (torch, transformers, Axolotl) makes ~600k-1M objects that live as
long as the process and little garbage, so the full collections that run meanwhile only re-scan
them. `preload` imports with the collector paused; the training process then also freezes the
result (run/train_main.py), and the Axolotl referee (config/referee.py) imports its checks'
modules this way. A module that fails to import is left to its user, which imports it again
where it needs it and reports the error as it would have.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterable


def preload(names: Iterable[str]) -> None:
    """Import `names` with the garbage collector paused (and restored as it was)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # its user imports it again and reports what fails, where it would
                continue
    finally:
        if collecting:
            gc.enable()
