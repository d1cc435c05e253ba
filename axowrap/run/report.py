"""report.md of a run (built from state.json: each step's status and its "report" snippet)
and loss.png (train and eval loss from the trainer's log_history, matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from axowrap.run.rundir import RunDir
from axowrap.run.state import load_state
from axowrap.yamlio import atomic_write


def loss_plot(history: list[dict[str, Any]], out: Path) -> Path | None:
    """Plot train (and eval) loss against the step; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=True), marker="o", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out


def tracking_lines(data: dict[str, Any]) -> list[str]:
    """Where this run's tracker runs are (and a failure to log to them)."""
    from axowrap.tracking.runs import links

    out = links(data)
    if data.get("error"):
        out.append(f"tracking problem: {data['error']}")
    return out


def build_report(run: RunDir) -> str:
    state = load_state(run)
    manifest = json.loads(run.manifest.read_text(encoding="utf-8")) if run.manifest.is_file() else {}
    spec = manifest.get("spec", {})
    lines = [f"# Run {run.root.name}", ""]
    if spec:
        lines += [f"- spec: `{spec.get('path')}` (sha256 {str(spec.get('sha256'))[:12]})"]
    model = manifest.get("base_model", {})
    if model:
        lines += [f"- base model: `{model.get('id') or model.get('path')}`"]
    lines += [f"- {line}" for line in tracking_lines(state.get("tracking") or {})]
    lines += ["", "| step | status | started | ended |", "|---|---|---|---|"]
    for name, entry in state["steps"].items():
        lines.append(f"| {name} | {entry.get('status')} | {entry.get('started') or ''} | {entry.get('ended') or ''} |")
    lines.append("")
    for name, entry in state["steps"].items():
        snippet = (entry.get("result") or {}).get("report")
        if snippet and entry.get("status") == "done":
            lines += [snippet.rstrip(), ""]
        error = entry.get("error")
        if error:
            lines += [f"## {name} failed", "", error.get("message", ""), ""]
            if error.get("log"):
                lines += [f"log: `{error['log']}`", ""]
    return "\n".join(lines)


def write_report(run: RunDir) -> Path:
    atomic_write(run.report, build_report(run))
    return run.report
