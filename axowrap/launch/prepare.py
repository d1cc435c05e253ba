"""Prepare a spec's run directory for a job script, and print its path.

    python -m axowrap.launch.prepare SPEC --runs-root DIR

Creates or updates the run directory (spec copy, data split, config, manifest; the same
directory every time, so a requeued or restarted job resumes it) and writes the launch
files (accelerate.yaml, ZeRO JSON) the nodes read. Prints only the directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from axowrap.errors import AxowrapError
from axowrap.rundir import RunDir


def prepare(spec_path: Path, runs_root: Path) -> RunDir:
    from axowrap.launch.command import write_launch_files
    from axowrap.pipeline import load_manifest, prepare_run

    run = prepare_run(spec_path, runs_root)
    write_launch_files(load_manifest(run)["spec"]["effective"], run.root)
    run.logs.mkdir(parents=True, exist_ok=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axowrap.launch.prepare")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--runs-root", type=Path, default=Path("runs"))
    args = parser.parse_args(argv)
    try:
        run = prepare(args.spec, args.runs_root)
    except AxowrapError as exc:
        for problem in getattr(exc, "problems", []):
            print(problem.render(), file=sys.stderr)
        print(f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    print(run.root.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
