"""Packing pays: the rendered defaults (sample packing on) vs the same spec with packing off,
trained for one epoch on real alpaca rows (bench/data/alpaca_en_demo.json, 999 rows) with the
tiny model, each config trained REPEAT times, alternating, each time in a fresh run directory.

Reports, as medians: real tokens/s (tokens of the data, padding excluded, over the trainer's
runtime), the wall time of the whole `axowrap run --steps train` (dataset preparation and model
loading included), the CPU seconds it used, and the fraction of token slots that were padding.
Target (issue 3): the rendered default is not slower, by trainer tokens/s. The whole-run wall
time is printed beside it: packing adds a fixed few seconds per run before training (Axolotl's
multipack sampler JIT-compiles its numba bin packer, once to estimate the step count and once in
a worker when the trainer starts), which a one-minute run on a tiny model cannot win back.
Run it on an idle machine: wall times on a loaded one are noise.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, Targets, machine, median

REPEAT = 3

SPEC = """\
task: instruct
name: pack-{label}
base_model: {model}
datasets: [{{path: data/alpaca.json, format: alpaca}}]
training: {{epochs: 1, micro_batch_size: 2, sequence_len: 512{extra}}}
compute: {{target: cpu}}
"""


def real_tokens(prepared: Path) -> int:
    """Tokens in the tokenized training rows Axolotl prepared (no padding)."""
    from datasets import load_from_disk

    folders = [p for p in prepared.iterdir() if p.is_dir()]
    return sum(len(ids) for ids in load_from_disk(str(folders[0]))["input_ids"])


def train(work: Path, model: Path, label: str, extra: str, runs: Path) -> dict[str, Any]:
    from axowrap.run.pipeline import run_dir_for

    spec = work / f"{label}.yaml"
    spec.write_text(SPEC.format(label=label, model=model, extra=extra))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "axowrap"),
            "run",
            str(spec),
            "--steps",
            "train",
            "--json",
            "--runs-dir",
            str(runs),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    metrics = [e for e in events if e.get("event") == "metrics"]
    summary = next(e for e in events if e.get("event") == "summary")
    run = run_dir_for(spec, f"pack-{label}", runs)
    config = run.config.read_text()
    tokens = real_tokens(run.adapter / "prepared")
    slots = metrics[-1]["tokens_total"]
    return {
        "packing": "sample_packing: true" in config,
        "steps": metrics[-1]["step"],
        "runtime": summary["train_runtime"],
        "tokens": tokens,
        "slots": slots,
        "tok_s": tokens / summary["train_runtime"],
        "padding": 1 - tokens / slots,
        "cpu_s": cpu,
        "wall": wall,
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's counts (identical across runs) with the median of each timing."""
    out = dict(runs[0])
    for key in ("runtime", "tok_s", "cpu_s", "wall"):
        out[key] = median([r[key] for r in runs])
    return out


def main(targets: Targets) -> None:
    from fixtures.tiny_model import build

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build(work / "model")
        (work / "data").mkdir()
        shutil.copy(REPO / "bench" / "data" / "alpaca_en_demo.json", work / "data" / "alpaca.json")
        results: dict[str, list[dict[str, Any]]] = {"default": [], "off": []}
        for i in range(REPEAT):
            results["default"].append(train(work, model, "default", "", work / f"runs{i}"))
            results["off"].append(train(work, model, "off", ", sample_packing: false", work / f"runs{i}"))
        default, off = medians(results["default"]), medians(results["off"])
    print(
        f"packing on {machine()} (tiny Llama, 999 alpaca rows, 1 epoch, micro batch 2, sequence_len 512, "
        f"medians of {REPEAT} runs each)"
    )
    for name, r in (("rendered default", default), ("packing off", off)):
        print(
            f"  {name:<17} packing={r['packing']!s:<5} steps {r['steps']:>4}  trainer {r['runtime']:6.2f} s  "
            f"{r['tok_s']:7.0f} real tok/s  whole run {r['wall']:6.1f} s wall  {r['cpu_s']:6.1f} CPU s  "
            f"padding {r['padding']:.1%}  ({r['tokens']} tokens in {r['slots']:.0f} slots)"
        )
    targets.check(
        "rendered default packs", default["packing"] and not off["packing"], f"{default['packing']} / {off['packing']}"
    )
    targets.check(
        "packed default not slower (trainer tokens/s)",
        default["tok_s"] >= off["tok_s"],
        f"{default['tok_s']:.0f} vs {off['tok_s']:.0f} real tok/s ({default['tok_s'] / off['tok_s']:.2f}x)",
    )
    print(
        f"  whole run (not a target): {default['wall']:.1f} vs {off['wall']:.1f} s wall; packing saved "
        f"{off['runtime'] - default['runtime']:+.1f} s of training and cost "
        f"{(default['wall'] - default['runtime']) - (off['wall'] - off['runtime']):+.1f} s before and around it"
    )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
