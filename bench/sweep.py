"""A 2x2 sweep of the tiny model on CPU (learning rate x LoRA rank), through `axowrap sweep`:
what one shared tokenization saves per point, and the whole sweep against its target.

    python bench/run.py sweep                                    # ~5-10 min idle on 2 CPU cores
    python bench/sweep.py --from runs/sweeps/tiny-1a2b3c4d       # the figures of a sweep that ran

Data preparation time is read from Axolotl's own log lines in each point's logs/train.log:
from "Unable to find prepared dataset" (it tokenizes) or "Loading prepared dataset from disk"
(it reuses the first point's) to its next line outside data preparation. Train and eval times
come from each point's state.json. Target (issue 20): the sweep of N points costs at most
N x (one run's train + eval without its data preparation) + one data preparation; the first
point is that one run (it prepares the data itself, as `axowrap run` would).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import REPO, Targets

AXOWRAP = str(Path(sys.executable).parent / "axowrap")
SPEC = """\
task: completion
name: tiny
base_model: {model}
datasets: [{{path: data/completion.jsonl}}]
training: {{max_steps: 4, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 256, save_steps: 4}}
eval: {{holdout: 0.1}}
export: {{merge: false, gguf: []}}
compute: {{target: cpu}}
"""
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\w+\] \[([\w.]+)\]")
DATA_LOGGERS = ("axolotl.utils.data", "axolotl.utils.samplers", "axolotl.utils.trainer", "axolotl.utils.schemas")


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")


def data_preparation(log: Path) -> tuple[str, float]:
    """("tokenized" | "reused", seconds) of the data preparation in a train log."""
    start: datetime | None = None
    kind = ""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        if start is None:
            if "Unable to find prepared dataset" in line or "Loading prepared dataset from disk" in line:
                start, kind = _when(m.group(1)), "tokenized" if "Unable" in line else "reused"
        elif not m.group(2).startswith(DATA_LOGGERS):
            return kind, (_when(m.group(1)) - start).total_seconds()
    raise SystemExit(f"{log}: no data preparation found")


def _seconds(entry: dict) -> float:
    start = datetime.fromisoformat(entry["started"].replace("Z", "+00:00"))
    return (datetime.fromisoformat(entry["ended"].replace("Z", "+00:00")) - start).total_seconds()


def figures(sweep: Path, wall: float | None, targets: Targets | None) -> None:
    record = json.loads((sweep / "sweep.json").read_text())
    rows = []
    for point in record["points"]:
        run = Path(point["run"])
        steps = json.loads((run / "state.json").read_text())["steps"]
        kind, prep = data_preparation(run / "logs" / "train.log")
        rows.append((point["id"], kind, prep, _seconds(steps["train"]), _seconds(steps["eval"])))
        print(f"  {point['id']}: data {kind} in {prep:.1f} s, train step {rows[-1][3]:.1f} s, eval {rows[-1][4]:.1f} s")
    first = rows[0]
    reused = [r[2] for r in rows[1:] if r[1] == "reused"]
    saved = first[2] - sum(reused) / len(reused) if reused else 0.0
    print(f"  data preparation: {first[2]:.1f} s once; {len(reused)} point(s) reused it, saving {saved:.1f} s each")
    points = sum(r[3] + r[4] for r in rows)
    bound = len(rows) * (first[3] - first[2] + first[4]) + first[2]
    print(
        f"  points' train + eval: {points:.1f} s; the target's bound N x (train - prep + eval) + prep = {bound:.1f} s"
    )
    if wall is not None:
        print(f"  sweep wall (planning, {len(rows)} points, leaderboard): {wall:.1f} s")
    if targets is not None:
        targets.check("sweep: one tokenization", [r[1] for r in rows].count("tokenized") == 1, f"{len(reused)} reused")
        total = wall if wall is not None else points
        targets.check(
            "sweep within N x (train + eval) + one preparation", total <= bound, f"{total:.1f} s <= {bound:.1f} s"
        )


def main(targets: Targets) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from fixtures.tiny_model import build

    work = Path(tempfile.mkdtemp(prefix="axowrap-bench-sweep-"))
    try:
        model = build(work / "tiny-model")
        shutil.copytree(REPO / "examples" / "data", work / "data")
        (work / "tiny.yaml").write_text(SPEC.format(model=model), encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "disabled"}
        argv = [AXOWRAP, "sweep", "tiny.yaml", "--grid", "training.learning_rate=1e-3,1e-2", "--grid", "lora.r=4,8"]
        start = time.perf_counter()
        subprocess.run([*argv, "-q"], cwd=work, env=env, check=True)
        wall = time.perf_counter() - start
        (sweep,) = (work / "runs" / "sweeps").iterdir()
        figures(sweep, wall, targets)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--from"]:
        figures(Path(sys.argv[2]), None, Targets())
    else:
        main(Targets())
