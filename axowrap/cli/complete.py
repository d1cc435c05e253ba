"""Shell completion of option values and arguments, from the tables (never retyped lists).

Each function is a click `shell_complete` callback: tasks (the presets), methods and formats
(the spec schema's enums), targets (axowrap/targets.yaml), steps (the step registry; comma
lists complete their last item), GGUF types (axowrap/gguf_types.py), spec files (the shell's
own file completion) and run directories (folders with a manifest under the runs dir).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from click.shell_completion import CompletionItem


def _items(names: Iterable[str], incomplete: str, prefix: str = "") -> list[CompletionItem]:
    return [CompletionItem(prefix + n) for n in names if n.startswith(incomplete)]


def tasks(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.spec.presets import preset_names

    return _items(preset_names(), incomplete)


def methods(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.spec.new import methods as known

    return _items(known(), incomplete)


def formats(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.spec.new import formats as known

    return _items(known(), incomplete)


def targets(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.targets import target_names

    return _items(target_names(), incomplete)


def gguf_types(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.gguf_types import SUPPORTED

    return _items(SUPPORTED, incomplete.lower())


def steps(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    """`train,me<TAB>` -> `train,merge`: the last item of a comma list."""
    from axowrap.steps.registry import STEP_NAMES

    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    chosen = set(done.split(",")) if done else set()
    return _items([s for s in STEP_NAMES if s not in chosen], last, prefix)


def step(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    from axowrap.steps.registry import STEP_NAMES

    return _items(STEP_NAMES, incomplete)


def specs(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    """Spec files: the shell's own path completion."""
    return [CompletionItem(incomplete, type="file")]


def runs(_ctx: Any, _param: Any, incomplete: str) -> list[CompletionItem]:
    """Run directories (a manifest.json inside) under the folder typed so far, else under the
    runs dir (AXOWRAP_RUNS_DIR, default runs/); other folders through the shell."""
    typed = Path(incomplete)
    folder = typed.parent if incomplete and not incomplete.endswith("/") else typed
    if not incomplete:
        folder = Path(os.environ.get("AXOWRAP_RUNS_DIR") or "runs")
    found = []
    try:
        children = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        children = []
    for child in children:
        shown = str(child) if str(folder) != "." or incomplete.startswith("./") else child.name
        if (child / "manifest.json").is_file() and shown.startswith(incomplete):
            found.append(CompletionItem(shown))
    return found or [CompletionItem(incomplete, type="dir")]
