"""Prepare a spec's run directory for a job script, and print its path.

    axowrap _prepare SPEC --runs-dir DIR [--set KEY=VALUE ...]

Creates or updates the run directory (spec copy, data split, config, manifest; the same
directory every time, so a requeued or restarted job resumes it) and writes the launch
files (accelerate.yaml, ZeRO JSON) the nodes read. Prints only the directory.
"""

from __future__ import annotations

from pathlib import Path

from axowrap.run.rundir import RunDir
from axowrap.spec.overrides import Override


def prepare(spec_path: Path, runs_root: Path, overrides: tuple[Override, ...] = ()) -> RunDir:
    from axowrap.run.launch import write_launch_files
    from axowrap.run.manifest import load_manifest
    from axowrap.run.pipeline import prepare_run

    run = prepare_run(spec_path, runs_root, overrides=overrides)
    write_launch_files(load_manifest(run)["spec"]["effective"], run.root)
    run.logs.mkdir(parents=True, exist_ok=True)
    return run
