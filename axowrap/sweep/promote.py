"""`axowrap sweep promote POINT`: write a point's values into the spec, each with a comment
line naming the sweep (`# axowrap: lora.r from sweep sql-3f2a9c1d point p3 (...)`), so the
spec says where the value came from and `render --explain` shows it.

The edit keeps the file's comments and layout (axowrap.spec.edit); the edited spec is
validated before it replaces the file, which is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, UsageError, ValidationFailed
from axowrap.sweep.leaderboard import metric_name, rows
from axowrap.sweep.record import Point, Sweep


def pick(sweep: Sweep, which: str, metric: str | None) -> Point:
    """A point by id (`p3`), `best` (the top of the leaderboard), or its run directory."""
    if which == "best":
        board = [r for r in rows(sweep, metric_name(sweep, metric)) if r.metric is not None]
        if not board:
            raise UsageError(f"sweep {sweep.id} has no scored point yet", hint="run it first: `axowrap sweep SPEC ...`")
        return board[0].point
    as_path = Path(which).resolve()
    for point in sweep.points:
        if point.id == which or (point.run and Path(point.run).resolve() == as_path):
            return point
    raise UsageError(
        f"sweep {sweep.id} has no point {which!r}",
        hint=f"points: {', '.join(p.id for p in sweep.points)}, or `best`",
    )


def promote(sweep: Sweep, point: Point, metric: str | None) -> tuple[Path, list[str], str]:
    """Write the point's values into the sweep's spec: (the spec, the keys written, the note)."""
    from axowrap.spec.edit import set_values
    from axowrap.spec.read import read_spec
    from axowrap.validate import load_spec
    from axowrap.yamlio import atomic_write, read_text

    spec_path = Path(sweep.spec)
    name = metric_name(sweep, metric)
    found = next((r for r in rows(sweep, name) if r.point is point), None)
    score = ""
    if found is not None and found.metric is not None:
        score = f" ({name} {found.metric:.4g}" + (f", base {found.base:.4g})" if found.base is not None else ")")
    note = f"from sweep {sweep.id} point {point.id}{score}"
    overrides = point.overrides
    values: list[tuple[Any, Any]] = [(o.path, o.value) for o in overrides]
    text = read_text(spec_path, "spec")
    new = set_values(text, values, note, file=str(spec_path))
    trial = spec_path.with_name(f".{spec_path.name}.promote.yaml")
    try:
        atomic_write(trial, new)
        promoted = load_spec(trial)  # the edited spec must be valid, and mean the point's values
        expected = read_spec(spec_path, overrides).data
    except ValidationFailed as exc:
        raise AxowrapError(
            f"{spec_path}: the spec with point {point.id}'s values does not validate: {exc.problems[0].render()}",
            hint="edit the spec by hand",
        ) from None
    finally:
        trial.unlink(missing_ok=True)
    if promoted.data != expected:
        raise AxowrapError(f"{spec_path}: the edit does not mean point {point.id}'s values", hint="edit it by hand")
    atomic_write(spec_path, new)
    return spec_path, list(dict.fromkeys(o.key for o in overrides)), note
