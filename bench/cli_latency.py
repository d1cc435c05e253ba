"""CLI latency: cold `axowrap render|validate` vs `axolotl --help`; 100 specs in one call.

Targets: issue 2 (render and validate cold median <= 0.3 s and >= 10x faster than
`axolotl --help`; `axowrap validate` of 100 specs <= 2 s) and issue 23 (a cold `validate` of
one spec <= 0.15 s and >= 15x `axolotl --help`, measured in the same run).

A cold `validate` is a fresh process; its result cache (axowrap.checkcache) is timed both
warm (the file was checked before: the daily loop) and off (`--no-cache`: a first check).
Python's bytecode is timed both ways as well: with compiled .pyc files (the usual install) and
without (PYTHONDONTWRITEBYTECODE=1 and an empty pycache: every module compiled from source at
each start, as in a sandbox that never keeps .pyc files). The issue-23 target is judged on the
usual install, warm cache; every figure is printed with the load average.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, axolotl_help, load, machine, median, time_cmd


def main(targets: Targets, repeat: int = 7) -> None:
    bindir = Path(sys.executable).parent
    axowrap = [str(bindir / "axowrap")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "examples", work / "examples")
        specs = []
        for i in range(100):
            src = sorted((work / "examples").glob("*.yaml"))[i % 9]
            dst = work / "examples" / f"bench-{i:03d}.yaml"
            dst.write_text(src.read_text())
            specs.append(str(dst.relative_to(work)))
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "AXOWRAP_NO_CACHE")}
        base["XDG_CACHE_HOME"] = str(work / "cache")
        compiled = {**base, "PYTHONPYCACHEPREFIX": str(work / "pyc")}
        source = {**base, "PYTHONPYCACHEPREFIX": str(work / "no-pyc"), "PYTHONDONTWRITEBYTECODE": "1"}
        one = [*axowrap, "validate", "examples/sql.yaml"]
        time_cmd(one, repeat=1, cwd=work, env=compiled)  # writes the .pyc files and the cached result
        figures: dict[str, float] = {}

        def run(label: str, argv: list[str], env: dict[str, str], n: int = repeat) -> float:
            at = load()
            figures[label] = t = median(time_cmd(argv, repeat=n, cwd=work, env=env))
            print(f"  {label:<58} {t:.3f} s  (median of {n}; {at})")
            return t

        axolotl_at = load()
        axolotl = axolotl_help(env=compiled)  # the same bytecode conditions
        render = run(
            "render examples/sql.yaml -o out.yaml (.pyc)",
            [*axowrap, "render", "examples/sql.yaml", "-o", "out.yaml"],
            compiled,
        )
        validate = run("validate examples/sql.yaml, warm cache (.pyc)", one, compiled)
        fresh = run("validate examples/sql.yaml --no-cache (.pyc)", [*one, "--no-cache"], compiled)
        run("validate examples/sql.yaml, warm cache (no .pyc)", one, source)
        run("validate examples/sql.yaml --no-cache (no .pyc)", [*one, "--no-cache"], source)
        run("axowrap --version (.pyc)", [*axowrap, "--version"], compiled)
        hundred = run(
            "validate of 100 specs in one call, --no-cache (.pyc)",
            [*axowrap, "validate", "--no-cache", *specs],
            compiled,
            3,
        )
        if axolotl is not None:
            print(f"  {'axolotl --help':<58} {axolotl:.3f} s  (median of 3; {axolotl_at})")
    print(f"cli latency on {machine()}")
    targets.check("render <= 0.3 s", render <= 0.3, f"{render:.3f} s")
    targets.check("validate <= 0.3 s (--no-cache)", fresh <= 0.3, f"{fresh:.3f} s")
    targets.check("validate of one spec <= 0.15 s (warm cache)", validate <= 0.15, f"{validate:.3f} s")
    if axolotl is not None:
        targets.check("render >= 10x faster than axolotl --help", axolotl / render >= 10, f"{axolotl / render:.1f}x")
        targets.check(
            "validate >= 15x faster than axolotl --help (warm cache)",
            axolotl / validate >= 15,
            f"{axolotl / validate:.1f}x",
        )
        print(f"  validate --no-cache vs axolotl --help: {axolotl / fresh:.1f}x")
    targets.check("100 specs <= 2 s", hundred <= 2.0, f"{hundred:.3f} s")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
