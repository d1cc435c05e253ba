"""Wrapper overhead: `axowrap run --steps train` vs the bare `accelerate launch -m
axolotl.cli.train` of the same rendered config, same machine, same run directory.

Target (issue 3): overhead <= 3% of the bare wall time or <= 2 s, whichever is larger.
Runs alternate (bare, wrapped, bare, wrapped ...) so machine load hits both alike; each
starts from an empty output_dir (the wrapper's --force removes it; the bare run gets the same).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, machine, median, time_cmd

SPEC = """\
task: sql
base_model: {model}
datasets: [{{path: data/sql.jsonl}}]
training: {{max_steps: 6, micro_batch_size: 2, sequence_len: 512, save_steps: 3}}
compute: {{target: cpu}}
"""


def main(targets: Targets, repeat: int = 3) -> None:
    from axowrap.launch.command import launch_argv
    from axowrap.pipeline import prepare_run
    from axowrap.spec import load_spec
    from axowrap.tinymodel import build

    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = build(work / "model")
        shutil.copytree(REPO / "examples" / "data", work / "data")
        spec = work / "tiny.yaml"
        spec.write_text(SPEC.format(model=model))
        run = prepare_run(spec, work / "runs")
        argv, env_changes = launch_argv(load_spec(spec).data, run.config)
        env = {**os.environ, **env_changes, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
        wrapper = [str(bindir / "axowrap"), "run", str(spec), "--steps", "train", "--force", "--runs-dir", str(work / "runs")]
        bare: list[float] = []
        wrapped: list[float] = []
        for _ in range(repeat):
            shutil.rmtree(run.adapter, ignore_errors=True)
            bare += time_cmd(argv, repeat=1, cwd=run.root, env=env)
            wrapped += time_cmd(wrapper, repeat=1, cwd=work, env=env)
    b, w = median(bare), median(wrapped)
    allowed = max(0.03 * b, 2.0)
    print(f"wrapper overhead on {machine()} (tiny Llama, 6 steps, CPU; median of {repeat} alternating runs)")
    print(f"  bare accelerate launch:       {b:.2f} s   {[round(x, 2) for x in bare]}")
    print(f"  axowrap run --steps train:    {w:.2f} s   {[round(x, 2) for x in wrapped]}")
    print(f"  overhead:                     {w - b:+.2f} s ({(w - b) / b:+.1%}); allowed {allowed:.2f} s")
    targets.check("axowrap run overhead <= max(3%, 2 s)", w - b <= allowed, f"{w - b:+.2f} s of {b:.2f} s")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
