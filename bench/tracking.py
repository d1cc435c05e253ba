"""Tracking cost (issue 15): `axowrap run --steps train --force` of the tiny Llama (6 steps, CPU)
with and without `tracking: {mlflow: {tracking_uri: <a file store>}}`. Runs alternate (plain,
tracked, plain, tracked ...) so the machine's load hits both alike; wall time and CPU time of
the whole process tree are measured, the target checked on CPU time (stable on a shared
machine whose load swings wall time by 2x). The tracked run includes creating the MLflow run,
the trainer's MLflow callback (params, per-step metrics) and logging the run's files at the end.

Target: tracking adds at most 2% to the tiny training run's time.

Also printed, to say whose the cost is: the CPU of importing mlflow in a process that already
holds the trainer's stack (torch, transformers, Axolotl), as both pay it: the runner (axowrap:
creating the MLflow run, logging the run's files; its Axolotl preflight has loaded that stack)
and the trainer (Axolotl's and transformers' MLflow callbacks), and the callbacks' own work
(params, 6 steps of metrics, end of run) on a file store.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, load, machine, median
from wrapper_overhead import timed

sys.path.insert(0, str(REPO / "tests"))

SPEC = """\
task: sql
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 6, micro_batch_size: 2, sequence_len: 512, save_steps: 3}}
compute: {{target: cpu}}
{extra}"""


BREAKDOWN = """\
import os, sys, tempfile, time
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
import axolotl.cli.train, transformers.trainer  # the trainer's stack, loaded first
from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments
from transformers.trainer_callback import TrainerControl, TrainerState
cpu = time.process_time()
import mlflow
from transformers.integrations import MLflowCallback
imported = time.process_time() - cpu
store = "file://" + tempfile.mkdtemp()
client = mlflow.MlflowClient(tracking_uri=store)
run = client.create_run(client.create_experiment("tiny"))
os.environ.update(MLFLOW_TRACKING_URI=store, MLFLOW_RUN_ID=run.info.run_id)
model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, vocab_size=1000))
args, state, control = TrainingArguments(output_dir=tempfile.mkdtemp(), report_to=[]), TrainerState(), TrainerControl()
state.is_world_process_zero = True
cpu = time.process_time()
callback = MLflowCallback()
callback.on_train_begin(args, state, control, model=model)
for step in range(1, 7):
    state.global_step = step
    callback.on_log(args, state, control, logs={"loss": 1.0, "grad_norm": 0.5, "learning_rate": 1e-4}, model=model)
callback.on_train_end(args, state, control, model=model)
print(f"{imported:.3f} {time.process_time() - cpu:.3f}")
"""


def breakdown(repeat: int = 3) -> tuple[float, float]:
    """(CPU s of importing mlflow beside the trainer's stack, CPU s of the callbacks' work), medians."""
    import subprocess

    runs = [
        subprocess.run([sys.executable, "-c", BREAKDOWN], capture_output=True, text=True, check=True)
        for _ in range(repeat)
    ]
    found = [tuple(float(x) for x in r.stdout.split()[-2:]) for r in runs]
    return median([f[0] for f in found]), median([f[1] for f in found])


def main(targets: Targets, repeat: int = 3) -> None:
    from fixtures.tiny_model import build

    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build(work / "model")
        shutil.copytree(REPO / "examples" / "data", work / "data")
        specs = {
            "plain": SPEC.format(model=model, extra=""),
            "tracked": SPEC.format(model=model, extra=f"tracking: {{mlflow: {{tracking_uri: '{work / 'mlruns'}'}}}}\n"),
        }
        times: dict[str, list[tuple[float, float]]] = {"plain": [], "tracked": []}
        for i in range(repeat):
            for name, text in specs.items():
                spec = work / name / "tiny.yaml"
                spec.parent.mkdir(exist_ok=True)
                shutil.copytree(work / "data", spec.parent / "data", dirs_exist_ok=True)
                spec.write_text(text)
                argv = [str(bindir / "axowrap"), "run", str(spec), "--steps", "train", "--runs-dir", str(work / "runs")]
                if i:
                    argv.append("--force")
                times[name].append(timed(argv, cwd=work))
    print(f"tracking cost on {machine()}, {load()} (tiny Llama, 6 steps, CPU; median of {repeat} alternating runs)")
    for i, what in ((0, "wall"), (1, "CPU")):
        p, t = median([x[i] for x in times["plain"]]), median([x[i] for x in times["tracked"]])
        print(f"  {what:<4} no tracking:       {p:7.2f} s   {[round(x[i], 1) for x in times['plain']]}")
        print(f"  {what:<4} MLflow file store: {t:7.2f} s   {[round(x[i], 1) for x in times['tracked']]}")
        print(f"  {what:<4} cost:              {t - p:+7.2f} s ({(t - p) / p:+.1%})")
    p, t = median([x[1] for x in times["plain"]]), median([x[1] for x in times["tracked"]])
    imported, callbacks = breakdown()
    print(f"  whose (CPU, {load()}): importing mlflow beside the trainer's stack {imported:.2f} s, paid twice:")
    print(f"    by the runner (axowrap: the MLflow run, the files at the end) {imported / p:.1%} of no tracking")
    print(
        f"    by the trainer (Axolotl's and transformers' MLflow callbacks) {imported / p:.1%}; their work {callbacks:.2f} s"
    )
    targets.check(
        "tracking (MLflow file store) <= 2% of a tiny training (CPU time)", t - p <= 0.02 * p, f"{(t - p) / p:+.1%}"
    )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
