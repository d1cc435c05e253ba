"""Tracking cost (issue 15): `axowrap run --steps train --force` of the tiny Llama (6 steps, CPU)
with and without `tracking: {mlflow: {tracking_uri: <a file store>}}`. Runs alternate (plain,
tracked, plain, tracked ...) so the machine's load hits both alike; wall time and CPU time of
the whole process tree are measured, the target checked on CPU time (stable on a shared
machine whose load swings wall time by 2x). The tracked run includes creating the MLflow run,
the trainer's MLflow callback (params, per-step metrics) and logging the run's files at the end.

Target: tracking adds at most 2% to the tiny training run's time.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, machine, median
from wrapper_overhead import timed

sys.path.insert(0, str(REPO / "tests"))

SPEC = """\
task: sql
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 6, micro_batch_size: 2, sequence_len: 512, save_steps: 3}}
compute: {{target: cpu}}
{extra}"""


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
    print(f"tracking cost on {machine()} (tiny Llama, 6 steps, CPU; median of {repeat} alternating runs)")
    for i, what in ((0, "wall"), (1, "CPU")):
        p, t = median([x[i] for x in times["plain"]]), median([x[i] for x in times["tracked"]])
        print(f"  {what:<4} no tracking:       {p:7.2f} s   {[round(x[i], 1) for x in times['plain']]}")
        print(f"  {what:<4} MLflow file store: {t:7.2f} s   {[round(x[i], 1) for x in times['tracked']]}")
        print(f"  {what:<4} cost:              {t - p:+7.2f} s ({(t - p) / p:+.1%})")
    p, t = median([x[1] for x in times["plain"]]), median([x[1] for x in times["tracked"]])
    targets.check(
        "tracking (MLflow file store) <= 2% of a tiny training (CPU time)", t - p <= 0.02 * p, f"{(t - p) / p:+.1%}"
    )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
