"""Run a sweep: make its points, price them all with the planner (refusing those that do not
fit the target before anything runs), then run each point as an ordinary run directory
(`axowrap run SPEC --set ...`), one after another, with the steps that train and score it.

The points share the sweep's data/ and prepared/ folders: identical training rows get one
file, so Axolotl's prepared-data hash matches and a single tokenization serves every point
whose data settings match (sequence length, packing, the rows themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, StepInterrupted, UsageError, ValidationFailed
from axowrap.run.events import Events
from axowrap.spec.overrides import Override, parse_overrides
from axowrap.sweep.grid import parse_grid, parse_range, points
from axowrap.sweep.record import DONE, FAILED, PENDING, REFUSED, Point, Sweep, load_sweep, sweep_folder
from axowrap.validate import load_spec

STEPS = ("train", "eval")  # what makes a point comparable: its training and its domain eval


def make_sweep(
    spec_path: Path,
    runs_root: Path,
    *,
    grid: Sequence[str] = (),
    ranges: Sequence[str] = (),
    random_n: int | None = None,
    seed: int = 0,
    sets: Sequence[str] = (),
) -> Sweep:
    """The sweep these options define (its record reloaded when it exists: a rerun resumes)."""
    axes = [parse_grid(g) for g in grid]
    keys = [a.key for a in axes] + [parse_range(r).key for r in ranges]
    if len(set(keys)) != len(keys):
        raise UsageError("a key is swept twice: give each key one --grid or --range")
    common = parse_overrides(sets)
    spec = load_spec(spec_path, overrides=common)
    ev = spec.data.get("eval") or {}
    if not (ev.get("holdout") or ev.get("holdout_file")):
        raise UsageError(
            f"{spec_path}: a sweep ranks its points by the domain eval, and the spec holds out no rows",
            hint="set `eval: {holdout: 0.1}` (or eval.holdout_file) in the spec",
        )
    definition = {"grid": list(grid), "range": list(ranges), "random": random_n, "seed": seed, "set": list(sets)}
    folder = sweep_folder(runs_root, spec.path, spec.name, definition)
    if (folder / "sweep.json").is_file():
        return load_sweep(folder)
    made = points(axes, [parse_range(r) for r in ranges], random_n, seed)
    return Sweep(
        folder,
        str(spec.path.resolve()),
        definition,
        [Point(f"p{i}", [*sets, *_texts(p)]) for i, p in enumerate(made, 1)],
    )


def _texts(point: tuple[Override, ...]) -> list[str]:
    """The --set texts of a point (a `compute.target=gpu:N` value gives two overrides, one text)."""
    return list(dict.fromkeys(o.text for o in point))


def price(sweep: Sweep, events: Events) -> None:
    """Plan every point (memory, time, cost) before anything runs; refuse the sweep, naming
    them, when points do not fit the target (they are recorded as refused)."""
    from axowrap.plan.build import plan_spec

    problems = []
    totals = {"gpu_hours": 0.0, "cost": 0.0}
    priced = True
    for point in sweep.points:
        try:
            spec = load_spec(Path(sweep.spec), overrides=point.overrides)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        plan = plan_spec(spec).to_json()
        time = plan.get("time") or {}
        gpus = plan["target"]["gpus"]
        # the plan rounds hours for people; a sweep of short runs adds up the seconds
        gpu_hours = time["seconds"] * gpus / 3600 if "seconds" in time else None
        point.plan = {
            "target": f"{plan['target']['name']} x{gpus}",
            "total_gb": plan["total_gb"],
            "limit_gb": plan["target"]["limit_gb"],
            "fits": plan["fits"],
            "hours": time["seconds"] / 3600 if "seconds" in time else None,
            "gpu_hours": gpu_hours,
            "cost": gpu_hours * time["price_per_gpu_hour"] if gpu_hours is not None else None,
        }
        if gpu_hours is None:
            priced = False
        else:
            totals["gpu_hours"] += gpu_hours
            totals["cost"] += point.plan["cost"]
        if not plan["fits"]:
            point.status = REFUSED
            point.error = f"does not fit: {plan['total_gb']:.2f} GB per GPU > {plan['target']['limit_gb']:.2f} GB"
        elif point.status == REFUSED:
            point.status, point.error = PENDING, None
        events.emit(None, "plan", point.id, text=_plan_line(sweep, point), point=point.id, **point.plan)
    if problems:
        raise ValidationFailed(problems)
    cost = f"{gpu_time(totals['gpu_hours'])}, {money(totals['cost'])}" if priced else "time and cost unknown here"
    events.emit(
        None,
        "plan",
        "total",
        text=f"sweep {sweep.id}: {len(sweep.points)} point(s), {cost} (estimated)",
        points=len(sweep.points),
        **(totals if priced else {}),
    )
    refused = [p for p in sweep.points if p.status == REFUSED]
    if refused:
        sweep.save()
        raise AxowrapError(
            f"{len(refused)} of {len(sweep.points)} point(s) do not fit the target: "
            + "; ".join(f"{p.id} ({p.label(sweep.common)}): {p.error}" for p in refused),
            hint="drop those values from the sweep, or sweep for a bigger target (--set compute.target=GPU:N)",
        )


def gpu_time(hours: float) -> str:
    """GPU-hours in the unit that reads best: 40 GPU-s, 12.5 GPU-min, 3.2 GPU-h."""
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} GPU-s"
    return f"{hours * 60:.1f} GPU-min" if hours < 1 else f"{hours:.1f} GPU-h"


def money(cost: float) -> str:
    return f"${cost:.2f}" if cost >= 0.01 or cost == 0 else "<$0.01"


def _plan_line(sweep: Sweep, point: Point) -> str:
    plan = point.plan
    cost = f", {gpu_time(plan['gpu_hours'])}, {money(plan['cost'] or 0.0)}" if plan.get("gpu_hours") is not None else ""
    verdict = "fits" if plan["fits"] else "DOES NOT FIT"
    return (
        f"plan {point.id} ({point.label(sweep.common) or 'the spec as is'}): "
        f"{plan['total_gb']:.2f} of {plan['limit_gb']:.2f} GB on {plan['target']}, {verdict}{cost}"
    )


def run_points(
    sweep: Sweep, runs_root: Path, events: Events, *, options: dict[str, Any] | None = None, force: bool = False
) -> list[Point]:
    """Run (or resume) every point; a failing point is recorded and the next one runs.
    Returns the points that failed."""
    from axowrap.run.pipeline import locate_run, run_spec

    sweep.save()
    for point in sweep.points:
        overrides = point.overrides
        point.run = str(locate_run(Path(sweep.spec), runs_root, overrides).root)
        events.emit(
            None,
            "point",
            point.id,
            text=f"==> sweep {sweep.id} point {point.id}: {point.label(sweep.common) or 'the spec as is'}",
            point=point.id,
            run=point.run,
        )
        try:
            run_spec(
                Path(sweep.spec),
                runs_root=runs_root,
                overrides=overrides,
                shared=sweep.folder,
                names=list(STEPS),
                options=dict(options or {}),
                force=force,
                events=events,
            )
        except StepInterrupted:
            point.status = PENDING
            sweep.save()
            raise
        except AxowrapError as exc:
            point.status, point.error = FAILED, exc.message
            events.emit(
                None, "point-failed", exc.message, text=f"point {point.id} failed: {exc.message}", point=point.id
            )
        else:
            point.status, point.error = DONE, None
        sweep.save()
    return [p for p in sweep.points if p.status == FAILED]
