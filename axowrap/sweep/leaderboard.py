"""The leaderboard of a sweep: per point, the eval metric (tuned, and the base model's), the
final training loss, the time training and eval took, and what that time costs on the target;
and one PNG with every point's training loss curve.

Everything is read from the points' run directories: eval/results.json (the eval step), the
newest complete checkpoint's trainer_state.json (the trainer's own log) and state.json (when
each step started and ended).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from axowrap.sweep.record import Point, Sweep


@dataclass
class Row:
    point: Point
    values: str
    metric: float | None = None
    base: float | None = None
    higher_is_better: bool = True
    final_loss: float | None = None
    train_s: float | None = None
    eval_s: float | None = None
    cost: float | None = None
    history: list[tuple[int, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "point": self.point.id,
            "values": self.point.sets,
            "status": self.point.status,
            "run": self.point.run,
            "metric": self.metric,
            "base": self.base,
            "final_loss": self.final_loss,
            "train_s": self.train_s,
            "eval_s": self.eval_s,
            "cost": self.cost,
            "error": self.point.error,
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(entry: dict[str, Any]) -> float | None:
    try:
        start = datetime.fromisoformat(str(entry["started"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(entry["ended"]).replace("Z", "+00:00"))
    except (KeyError, ValueError, TypeError):
        return None
    return (end - start).total_seconds()


def _history(run: Path) -> list[tuple[int, float]]:
    from axowrap.run.checkpoints import newest_complete

    newest = newest_complete(run / "adapter").checkpoint
    if newest is None:
        return []
    log = _read_json(newest / "trainer_state.json").get("log_history") or []
    return [(int(h["step"]), float(h["loss"])) for h in log if "loss" in h and "step" in h]


def _price(manifest: dict[str, Any]) -> float | None:
    """The target's price per hour for all its GPUs (None: not known, e.g. a CPU)."""
    from axowrap.errors import AxowrapError
    from axowrap.targets import get_target

    compute = ((manifest.get("spec") or {}).get("effective") or {}).get("compute") or {}
    try:
        target = get_target(str(compute.get("target")))
    except AxowrapError:
        return None
    if target.price_per_hour is None:
        return None
    return target.price_per_hour * int(compute.get("gpus_per_node") or 1) * int(compute.get("nodes") or 1)


def metric_name(sweep: Sweep, asked: str | None) -> str | None:
    """The results.json metric the points are ranked by: `asked`, else what the spec's
    eval.metric reports first (`perplexity` -> word_perplexity)."""
    from axowrap.evaluation.metrics import reported

    if asked:
        return reported({"metric": asked})[0]
    for point in sweep.points:
        if point.run:
            manifest = _read_json(Path(point.run) / "manifest.json")
            ev = ((manifest.get("spec") or {}).get("effective") or {}).get("eval") or {}
            if ev.get("metric"):
                return reported(ev)[0]
    return None


def rows(sweep: Sweep, metric: str | None) -> list[Row]:
    """One row per point, best first (points without the metric last, in point order)."""
    out = []
    for point in sweep.points:
        row = Row(point, point.label(sweep.common) or "(the spec as is)")
        if point.run:
            run = Path(point.run)
            results = _read_json(run / "eval" / "results.json").get("metrics") or {}
            found = results.get(metric) if metric else None
            if isinstance(found, dict):
                row.metric, row.base = found.get("tuned"), found.get("base")
                row.higher_is_better = bool(found.get("higher_is_better", True))
            steps = _read_json(run / "state.json").get("steps") or {}
            row.train_s = _seconds(steps.get("train") or {})
            row.eval_s = _seconds(steps.get("eval") or {})
            price = _price(_read_json(run / "manifest.json"))
            if price is not None and row.train_s is not None:
                row.cost = price * (row.train_s + (row.eval_s or 0.0)) / 3600
            row.history = _history(run)
            row.final_loss = row.history[-1][1] if row.history else None
        out.append(row)
    scored = [r for r in out if r.metric is not None]
    scored.sort(key=lambda r: -float(r.metric or 0) if r.higher_is_better else float(r.metric or 0))
    return scored + [r for r in out if r.metric is None]


def loss_plot(board: list[Row], out: Path) -> Path | None:
    """Every point's training loss against the step, in one PNG (None without matplotlib or curves)."""
    curves = [r for r in board if r.history]
    if not curves:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for r in sorted(curves, key=lambda r: r.point.id):
        steps, losses = zip(*r.history, strict=True)
        ax.plot(steps, losses, marker=".", label=f"{r.point.id}: {r.values}")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out
