"""Steps per second of each training objective beside supervised fine-tuning (issue 17): the tiny
model, `axowrap run --steps train` on CPU, the same rows for every objective.

The rows: 8 real preference pairs of examples/data/dpo.jsonl with single-turn prompts, every
text cut to 160 characters. SFT trains on the prompt + chosen answer (as chat messages), the
pair objectives on the pairs, KTO on chosen (true) and rejected (false) answers, GRPO on the
prompts with 4 sampled answers of up to 16 tokens each, rewarded by ROUGE-L against the chosen
answer. Micro batch 2 (GRPO: 4 completions, one prompt), sequence_len 256, STEPS steps.

Reports the trainer's own steps/s (train_runtime: model loading and data preparation excluded)
and the whole run's wall time. Target: every objective trains its steps on CPU. Run it on an
idle machine: figures on a loaded one are noise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, Targets, machine

STEPS = 8
OBJECTIVES = ["sft", "dpo", "ipo", "simpo", "orpo", "kto", "reward-model", "grpo"]
SPEC = """\
task: {task}
base_model: {model}
datasets: [{{path: data/{task}.jsonl}}]
training: {{max_steps: {steps}, micro_batch_size: {batch}, gradient_accumulation_steps: 1, sequence_len: 256,
           save_steps: {steps}{extra}}}
eval: {{holdout: null}}
export: {{merge: false, gguf: null}}
compute: {{target: cpu}}
"""


def _cut(text: str) -> str:
    return text[:160]


def pairs() -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (REPO / "examples" / "data" / "dpo.jsonl").read_text().splitlines()]
    single = [r for r in rows if len(r["conversations"]) == 1][:8]
    return [
        {
            "prompt": _cut(r["conversations"][0]["content"]),  # examples/data/dpo.jsonl: role/content turns
            "chosen": _cut(r["chosen"]["content"]),
            "rejected": _cut(r["rejected"]["content"]),
        }
        for r in single
    ]


def data_for(task: str, rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], str]:
    """(spec task, rows in the task's format, extra spec text) for an objective."""
    if task == "sft":
        chat = [
            {"messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}]}
            for r in rows
        ]
        return "chat", chat, ""
    if task == "kto":
        kto = [
            {
                "messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r[side]}],
                "label": side == "chosen",
            }
            for r in rows
            for side in ("chosen", "rejected")
        ]
        return "kto", kto, ""
    if task == "grpo":
        grpo = [{"question": r["prompt"], "context": "", "answer": r["chosen"]} for r in rows]
        return "grpo", grpo, "rewards: {rouge_l: 1.0}\n"
    pref = [
        {
            "prompt": r["prompt"],
            "chosen": [{"role": "assistant", "content": r["chosen"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"]}],
        }
        for r in rows
    ]
    return task, pref, ""


def train(work: Path, model: Path, objective: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    task, data, more = data_for(objective, rows)
    (work / "data").mkdir(exist_ok=True)
    (work / "data" / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    fields = {"sft": "", "kto": ""}.get(objective, "")
    if objective in ("dpo", "ipo", "simpo", "reward-model"):
        fields = "fields: {prompt: prompt, chosen: chosen, rejected: rejected}"
    extra = ", generations: 4, completion_len: 16" if objective == "grpo" else ""
    text = SPEC.format(task=task, model=model, steps=STEPS, batch=4 if objective == "grpo" else 2, extra=extra) + more
    if fields:
        text = text.replace(f"{{path: data/{task}.jsonl}}", f"{{path: data/{task}.jsonl, {fields}}}")
    spec = work / f"{objective}.yaml"
    spec.write_text(text)
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
            str(work / "runs"),
        ],
        capture_output=True,
        text=True,
        cwd=work,
    )
    wall = time.perf_counter() - start
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    summary = next((e for e in events if e.get("event") == "summary"), None)
    metrics = [e for e in events if e.get("event") == "metrics"]
    if out.returncode != 0 or summary is None:
        return {"ok": False, "wall": wall, "error": (out.stdout + out.stderr)[-400:]}
    steps = metrics[-1]["step"] if metrics else 0
    return {
        "ok": steps == STEPS,
        "steps": steps,
        "runtime": summary["train_runtime"],
        "steps_s": steps / summary["train_runtime"],
        "wall": wall,
    }


def main(targets: Targets) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_model import build

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build(work / "model")
        rows = pairs()
        results = {o: train(work, model, o, rows) for o in OBJECTIVES}
    print(f"objectives on {machine()} (tiny Llama, {STEPS} steps, load average {load:.1f} at the start)")
    sft = results["sft"].get("steps_s")
    for name, r in results.items():
        if not r["ok"]:
            print(f"  {name:<13} FAILED after {r['wall']:.1f} s: {r.get('error', '')}")
            continue
        ratio = f"{r['steps_s'] / sft:.2f}x SFT" if sft else ""
        print(
            f"  {name:<13} {r['steps_s']:6.3f} steps/s  trainer {r['runtime']:6.2f} s  whole run {r['wall']:6.1f} s  {ratio}"
        )
    targets.check(
        "every objective trains on CPU",
        all(r["ok"] for r in results.values()),
        ", ".join(o for o, r in results.items() if not r["ok"]) or "all 8",
    )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
