"""The demo's last screen: time per step, the held-out scores (base vs fine-tune), and one
held-out question answered by the fine-tuned GGUF through llama.cpp.

    python examples/demo/summary.py RUN_DIR [--database demo.sqlite] [--timings timings.tsv]

Reads only what the pipeline wrote in RUN_DIR (state.json, eval/results.json, eval/task/docs.jsonl,
gguf/*.gguf); `--timings` adds the demo script's own stages (import, validate...) as `name<TAB>seconds`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from axowrap.evaluation.metrics import execution_match, first_statement, sql_exact_match
from axowrap.run.rundir import RunDir
from axowrap.steps.registry import STEP_NAMES


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


def scores_table(run: RunDir) -> list[str]:
    path = run.eval / "results.json"
    if not path.is_file():
        return ["(no eval results: the spec has no held-out data, or the eval step did not run)"]
    results = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        f"held-out rows: {results.get('n')}; tuned = the fine-tune as {results.get('model')}",
        f"{'metric':<22}{'base':>8}{'tuned':>8}{'delta':>8}",
    ]
    for name, m in sorted(results.get("metrics", {}).items()):
        lines.append(f"{name:<22}{_fmt(m.get('base')):>8}{_fmt(m.get('tuned')):>8}{_fmt(m.get('delta'), sign=True):>8}")
    return lines


def _fmt(value: Any, sign: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def chat_answer(run: RunDir, database: Path | None) -> list[str]:
    """One held-out prompt through the first GGUF with llama.cpp (f16 preferred)."""
    ggufs = sorted(run.gguf.glob("*.gguf"), key=lambda p: ("f16" not in p.name, p.name))
    docs = run.eval / "task" / "docs.jsonl"
    if not ggufs or not docs.is_file():
        return ["(no GGUF or no held-out prompt: skipped the llama.cpp answer)"]
    if importlib.util.find_spec("llama_cpp") is None:
        return ["(llama-cpp-python is not installed: skipped the llama.cpp answer)"]
    from llama_cpp import Llama

    doc = json.loads(docs.read_text(encoding="utf-8").splitlines()[0])
    start = time.perf_counter()
    llm = Llama(model_path=str(ggufs[0]), n_ctx=1024, verbose=False, seed=0)
    reply = llm.create_completion(doc["prompt"], max_tokens=128, temperature=0.0, stop=["<|im_end|>", "\n\n"])
    answer = first_statement(reply["choices"][0]["text"]).strip()
    lines = [
        f"llama.cpp ({ggufs[0].name}, {time.perf_counter() - start:.1f} s):",
        "  question: " + doc["prompt"].rsplit("### Question:", 1)[-1].split("###")[0].strip(),
        f"  answer:   {answer}",
        f"  gold:     {doc['target']}",
        f"  exact match: {sql_exact_match(answer, doc['target']):.0f}",
    ]
    if database is not None:
        lines[-1] += f", same rows on {database.name}: {execution_match(answer, doc['target'], database):.0f}"
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--database", type=Path)
    parser.add_argument("--timings", type=Path, help="the demo script's own stages: name<TAB>seconds per line")
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
    print("\n== held-out scores (base model vs fine-tune)")
    print("\n".join("  " + line for line in scores_table(run)))
    print("\n== a held-out question, answered by the fine-tuned GGUF")
    print("\n".join("  " + line for line in chat_answer(run, args.database)))
    if args.started:
        print(f"\ntotal: {time.time() - args.started:.0f} s")


if __name__ == "__main__":
    main()
