"""The demo's last screen: time per stage, the held-out scores side by side (base vs fine-tune,
95% intervals), how many answers needed extraction, and three held-out questions the fine-tune
fixed (the base model's answer, the fine-tune's, and whether each returns the gold rows).

    python examples/demo/summary.py RUN_DIR [--timings timings.tsv] [--started EPOCH] [--metric exec_match]

Reads only what the pipeline wrote in RUN_DIR: state.json, eval/results.json and lm-eval's
per-row samples (eval/<model>/axowrap_domain/samples_*.jsonl); `--timings` adds the demo
script's own stages (import, validate...) as `name<TAB>seconds` lines.
"""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from axowrap.evaluation.lmeval import read_samples
from axowrap.evaluation.metrics import INFORMATIONAL, extract_sql
from axowrap.evaluation.tasks import TASK_NAME
from axowrap.run.rundir import RunDir
from axowrap.steps.registry import STEP_NAMES

EXAMPLES = 3


def step_seconds(run: RunDir) -> list[tuple[str, str, float | None]]:
    """(step, status, seconds) from state.json, in pipeline order."""
    steps = json.loads(run.state.read_text(encoding="utf-8")).get("steps", {})
    out = []
    for name, entry in sorted(steps.items(), key=lambda kv: STEP_NAMES.index(kv[0]) if kv[0] in STEP_NAMES else 99):
        started, ended = entry.get("started"), entry.get("ended")
        secs = None
        if started and ended:
            secs = (_when(ended) - _when(started)).total_seconds()
        out.append((name, str(entry.get("status")), secs))
    return out


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _results(run: RunDir) -> dict[str, Any] | None:
    path = run.eval / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _cell(value: Any, ci: list[float] | None, sign: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    text = f"{value:+.3f}" if sign else f"{value:.3f}"
    if ci:
        text += f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if sign else f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return text


def scores_table(results: dict[str, Any] | None) -> list[str]:
    if results is None:
        return ["(no eval results: the spec has no held-out data, or the eval step did not run)"]
    n = results.get("n")
    lines = [
        f"held-out questions: {n}; both models answer as GGUF files through llama.cpp, greedy, same prompts"
        if results.get("model") == "gguf"
        else f"held-out questions: {n}; tuned = the fine-tune as {results.get('model')}",
        f"{'metric':<18}{'base [95% CI]':>22}{'tuned [95% CI]':>22}{'gain [95% CI]':>24}",
    ]
    metrics = results.get("metrics", {})
    for name, m in sorted(metrics.items(), key=lambda kv: (kv[0] in INFORMATIONAL, kv[0])):
        if name in INFORMATIONAL:
            continue
        lines.append(
            f"{name:<18}{_cell(m.get('base'), m.get('base_ci95')):>22}{_cell(m.get('tuned'), m.get('tuned_ci95')):>22}"
            f"{_cell(m.get('delta'), m.get('delta_ci95'), sign=True):>24}"
        )
    lines.append("(95% intervals: Wilson for each model; paired bootstrap over the questions for the gain)")
    for name in sorted(set(metrics) & INFORMATIONAL):
        m = metrics[name]
        if isinstance(n, int) and isinstance(m.get("base"), (int, float)) and isinstance(m.get("tuned"), (int, float)):
            lines.append(
                f"answers that needed extraction (SQL cut out of a fence or text, same rule for both): "
                f"base {round(m['base'] * n)} of {n}, tuned {round(m['tuned'] * n)} of {n}"
            )
    return lines


def fixed_examples(run: RunDir, results: dict[str, Any] | None, metric: str, count: int = EXAMPLES) -> list[str]:
    """Held-out questions the base model got wrong and the fine-tune right, by `metric`."""
    if results is None:
        return []
    tuned_label = str(results.get("model"))
    base = {s["doc_id"]: s for s in read_samples(run.eval / "base" / TASK_NAME, TASK_NAME)}
    tuned = {s["doc_id"]: s for s in read_samples(run.eval / tuned_label / TASK_NAME, TASK_NAME)}
    fixed = [i for i in sorted(tuned) if i in base and tuned[i].get(metric) == 1.0 and base[i].get(metric) == 0.0]
    if not fixed:
        return [f"(no held-out question where the fine-tune's {metric} is 1 and the base model's 0)"]
    lines = [
        f"{len(fixed)} held-out questions fixed by the fine-tune ({metric} 0 -> 1); the first {min(count, len(fixed))}:"
    ]
    sql = metric.startswith(("exec_", "sql_"))
    right, wrong = ("returns the gold rows", "does not return the gold rows") if sql else ("matches", "does not match")
    for i in fixed[:count]:
        doc = tuned[i]["doc"]
        lines.append("question: " + " ".join(str(doc.get("question") or "").split()))
        for label, sample in (("base", base[i]), ("tuned", tuned[i])):
            text = str((sample.get("filtered_resps") or [""])[0])
            answer = " ".join((extract_sql(text) if sql else text).split()) or "(empty)"
            verdict = right if sample.get(metric) == 1.0 else wrong
            lines += textwrap.wrap(f"{label}: {answer}", 100, initial_indent="  ", subsequent_indent="      ")
            lines.append(f"      -> {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--timings", type=Path, help="the demo script's own stages: name<TAB>seconds per line")
    parser.add_argument("--metric", default="exec_match", help="the per-question score that picks the examples")
    parser.add_argument(
        "--started", type=float, help="when the demo started (epoch seconds): prints the total wall time"
    )
    args = parser.parse_args()
    run = RunDir(args.run_dir.resolve())
    print("\n== time per stage")
    if args.timings and args.timings.is_file():
        for line in args.timings.read_text(encoding="utf-8").splitlines():
            name, secs = line.split("\t")
            print(f"  {name:<16}{float(secs):7.1f} s")
    for name, status, secs in step_seconds(run):
        print(f"    {name:<14}{'-' if secs is None else f'{secs:7.1f} s'}  {status}")
    results = _results(run)
    print("\n== held-out scores, base model vs fine-tune")
    print("\n".join("  " + line for line in scores_table(results)))
    print("\n== what the fine-tune fixed")
    print("\n".join("  " + line for line in fixed_examples(run, results, args.metric)))
    if args.started:
        print(f"\ntotal: {time.time() - args.started:.0f} s")


if __name__ == "__main__":
    main()
