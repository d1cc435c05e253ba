"""Hub datasets cost (issue 15): `axowrap run --dry-run --steps train` (validate, read every row,
held-out split, render, manifest) on 50,000 alpaca rows from a local JSONL file, and on the
same rows as a Hub dataset already in the cache, served by the local Hub (tests/hub_server.py,
the real huggingface_hub client asking it for the commit), and offline (HF_HUB_OFFLINE=1, the
cache only). Runs alternate; medians of wall time and of the CPU time of the process tree (the
target is checked on both: CPU time stays meaningful when a shared machine's load swings wall time).

Target: the Hub path adds at most 2 s over the local file when the dataset is cached.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, machine, median
from wrapper_overhead import timed

sys.path.insert(0, str(REPO / "tests"))

ROWS = 50_000
REPEAT = 3
AXOWRAP = str(Path(sys.executable).parent / "axowrap")
SPEC = """\
task: instruct
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets:
  - {{path: {path}, format: alpaca}}
eval: {{holdout: 0.05}}
compute: {{target: cpu}}
"""


def main(targets: Targets) -> None:
    from datacheck import make_rows
    from hub_server import Hub, serve

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = make_rows(folder / "rows.jsonl", ROWS)
        hub = Hub(token="hf_bench")
        server, _ = serve(hub)
        try:
            hub.add_dataset("bench/alpaca-50k", {"data/train-00000-of-00001.jsonl": rows.read_bytes()})
            (folder / "local.yaml").write_text(SPEC.format(path="rows.jsonl"))
            (folder / "hub.yaml").write_text(SPEC.format(path="bench/alpaca-50k"))
            env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
            env.update(HF_ENDPOINT=hub.url, HF_HOME=str(folder / "hf-home"), PYTHONPATH=str(REPO))
            offline = {**env, "HF_HUB_OFFLINE": "1"}

            def run(spec: str, environ: dict[str, str]) -> tuple[float, float]:
                argv = [AXOWRAP, "run", spec, "--dry-run", "--steps", "train", "--json"]
                return timed(argv, cwd=folder, env=environ)

            size = rows.stat().st_size
            download = run("hub.yaml", env)[0]  # the first run downloads: not what is compared
            local, online, cached = [], [], []
            for _ in range(REPEAT):
                local.append(run("local.yaml", env))
                online.append(run("hub.yaml", env))
                cached.append(run("hub.yaml", offline))
        finally:
            server.shutdown()
    print(f"  on {machine()}: {ROWS:,} rows ({size / 1e6:.0f} MB JSONL); first Hub run (download): {download:.2f} s")
    for i, what in ((0, "wall"), (1, "CPU")):
        for label, xs in (("local file", local), ("Hub, cached, online", online), ("Hub, cached, offline", cached)):
            print(f"  {what:<4} {label:<21} {median([x[i] for x in xs]):6.2f} s  {[round(x[i], 2) for x in xs]}")
    for label, xs in (("online", online), ("offline", cached)):
        wall = median([x[0] for x in xs]) - median([x[0] for x in local])
        cpu = median([x[1] for x in xs]) - median([x[1] for x in local])
        targets.check(
            f"hub dataset overhead (cached, {label})",
            wall <= 2.0 and cpu <= 2.0,
            f"{wall:+.2f} s wall, {cpu:+.2f} s CPU over the local file (<= 2 s)",
        )


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
