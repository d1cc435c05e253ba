"""Run a spec's GRPO reward functions on real rows before any training: `validate` does this.

For each of the first rows of the data, a group of different completions (the row's own
reference answer, another row's reference, half of the reference, an empty answer) is scored
the way TRL's GRPOTrainer calls a reward (keywords prompts, completions, completion_ids, the
rows' columns, trainer_state, log_extra, log_metric). A reward must return one finite number
per completion (None is allowed: TRL reads it as "not applicable"); a built-in one stays in
[0, 1]; and a reward that gives every completion of every group the same score carries no
learning signal (GRPO learns from differences within a group), so it is an error.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axowrap.data.formats import layout_for
from axowrap.data.readers import Unreadable, iter_rows
from axowrap.objectives.rewards import BUILTIN
from axowrap.objectives.rows import RowError, grpo_split

ROWS = 6  # rows probed per dataset


@dataclass(frozen=True)
class Sample:
    prompt: Any
    reference: str | None
    columns: dict[str, Any]


@contextmanager
def on_path(folder: Path) -> Iterator[None]:
    """`folder` first on sys.path for the duration (a spec's own reward modules sit beside it)."""
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))


def load_reward(name: str, folder: Path) -> Callable[..., Any]:
    """A built-in reward, or the user's function at dotted path `name` (imported beside the spec).
    Raises ValueError with what went wrong."""
    if name in BUILTIN:
        return BUILTIN[name].fn
    module_name, _, attr = name.rpartition(".")
    if not module_name:
        raise ValueError(
            f"{name!r} is neither a built-in reward ({', '.join(BUILTIN)}) nor a dotted path module.function"
        )
    with on_path(folder):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure of the user's module is reported, not raised
            raise ValueError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"{module_name!r} has no function {attr!r}")
    return fn


def _prompt_text(entry: dict[str, Any], row: dict[str, Any], fields: dict[str, str]) -> str:
    instruction = str(row.get(fields["instruction"], ""))
    extra = str(row.get(fields.get("input", "input")) or "")
    layout = entry.get("prompt")
    if layout:
        return str(layout).replace("{instruction}", instruction).replace("{input}", extra)
    return f"{instruction}\n\n{extra}".strip()


def samples(entry: dict[str, Any], path: Path, database: str | None, n: int = ROWS) -> list[Sample]:
    """The first `n` usable rows of a GRPO dataset, as a reward sees them."""
    layout = layout_for(entry.get("format") or "alpaca", entry.get("fields"), entry.get("roles"))
    out: list[Sample] = []
    for _, row in iter_rows(path):
        if len(out) >= n:
            break
        if isinstance(row, Unreadable) or not isinstance(row, dict):
            continue
        try:
            prompt, reference = grpo_split(layout, row)
        except RowError:
            continue
        if layout.format == "alpaca":
            prompt = _prompt_text(entry, row, layout.fields)
        columns = dict(row)
        columns["target"] = reference or ""
        if database:
            columns["database"] = database
        out.append(Sample(prompt, reference, columns))
    return out


def _group(samples_: list[Sample], i: int) -> list[str]:
    """Different completions for sample i: its reference, another's, half of it, nothing."""
    own = samples_[i].reference or ""
    other = next((s.reference for s in samples_[i + 1 :] + samples_[:i] if s.reference and s.reference != own), "")
    group = [own, other, own[: len(own) // 2], ""]
    return [c for n, c in enumerate(group) if c not in group[:n]] or [""]


def call(fn: Callable[..., Any], sample: Sample, completions: list[str]) -> Any:
    """Call a reward the way TRL 1.9's GRPOTrainer does, for one group."""
    k = len(completions)
    columns = {key: [value] * k for key, value in sample.columns.items() if key not in ("prompt", "completion")}
    return fn(
        prompts=[sample.prompt] * k,
        completions=completions,
        completion_ids=[[] for _ in range(k)],
        trainer_state=None,
        log_extra=lambda *a, **kw: None,
        log_metric=lambda *a, **kw: None,
        **columns,
    )


def check_reward(name: str, fn: Callable[..., Any], samples_: list[Sample]) -> str | None:
    """What is wrong with reward `name` on these rows (None: it returns usable, varied scores)."""
    if not samples_:
        return None
    seen: list[float] = []
    varied = False
    for i, sample in enumerate(samples_):
        group = _group(samples_, i)
        try:
            scores = call(fn, sample, group)
        except Exception as exc:  # the user's code: every failure is a finding
            return f"failed on row {i + 1}: {type(exc).__name__}: {exc}"
        if not isinstance(scores, list | tuple) or len(scores) != len(group):
            got = f"{len(scores)} values" if isinstance(scores, list | tuple) else type(scores).__name__
            return f"must return a list of {len(group)} numbers (one per completion), returned {got}"
        values = []
        for s in scores:
            if s is None:
                continue
            if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(float(s)):
                return f"returned {s!r}: rewards must be finite numbers (or None)"
            values.append(float(s))
        if name in BUILTIN and any(not 0.0 <= v <= 1.0 for v in values):
            return f"returned {values}: outside [0, 1]"
        varied = varied or len(set(values)) > 1
        seen += values
    if not varied and seen:
        return (
            f"scored every completion of {len(samples_)} group(s) the same ({seen[0]:g}): "
            "no learning signal (GRPO learns from differences within a group)"
        )
    return None
