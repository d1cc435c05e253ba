"""Team repo checks: cold `validate --all` and `render --all --check` on a repo of 50 specs.

These run in pre-commit on every commit and in CI on every push, so they must stay quick.
Targets (issue 8): each <= 5 s for 50 specs extending one team base (2 cores), and finding
the specs (`--all`) adds <= 0.3 s over naming the same 50 files (the rest is loading, rendering
and checking each spec, which `validate FILES` does too).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from common import Targets, machine, median, time_cmd

SPECS = 50


def main(targets: Targets, repeat: int = 5) -> None:
    axowrap = str(Path(sys.executable).parent / "axowrap")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "ft"
        subprocess.run([axowrap, "init", str(repo)], check=True, capture_output=True)
        example = (repo / "specs" / "example.yaml").read_text()
        for i in range(SPECS - 1):
            (repo / "specs" / f"model-{i:02d}.yaml").write_text(example.replace("epochs: 1", f"epochs: {1 + i % 3}"))
        subprocess.run([axowrap, "render", "--all"], cwd=repo, check=True, capture_output=True)
        files = sorted(str(p.relative_to(repo)) for p in (repo / "specs").glob("*.yaml"))
        named = median(time_cmd([axowrap, "validate", *files], repeat=repeat, cwd=repo))
        validate = median(time_cmd([axowrap, "validate", "--all"], repeat=repeat, cwd=repo))
        check = median(time_cmd([axowrap, "render", "--all", "--check"], repeat=repeat, cwd=repo))
    print(f"team checks on {machine()}, {SPECS} specs")
    print(f"  axowrap validate FILES (cold, median of {repeat}):       {named:.3f} s")
    print(f"  axowrap validate --all (cold, median of {repeat}):       {validate:.3f} s")
    print(f"  axowrap render --all --check (cold, median of {repeat}): {check:.3f} s")
    targets.check(f"validate --all, {SPECS} specs <= 5 s", validate <= 5.0, f"{validate:.3f} s")
    targets.check(f"render --all --check, {SPECS} specs <= 5 s", check <= 5.0, f"{check:.3f} s")
    targets.check("--all discovery overhead <= 0.3 s", validate - named <= 0.3, f"{validate - named:+.3f} s")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
