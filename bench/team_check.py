"""Team repo checks at scale: `validate --all` and `render --all --check` on 50 and 500 specs.

These run in pre-commit on every commit and in CI on every push. Each spec extends one team
base (a repo from `axowrap init`, the example spec copied with a different epoch count).
Results are cached by content hash under $XDG_CACHE_HOME/axowrap (axowrap.checkcache), so
each size is timed three ways, each a fresh process:
- cold cache: an empty cache folder before every run (`validate --all` also with `--jobs 1`,
  and `validate FILES` to see what finding the specs costs);
- warm cache, one spec changed: a different spec edited before every run (what a commit does);
- warm cache, nothing changed: `render --all --check` (CI after a commit that left specs alone).
Targets: issue 8 (50 specs: each <= 5 s cold, discovery <= 0.3 s) and issue 23 (500 specs:
`validate --all` cold cache <= 3 s, warm with one spec changed <= 1 s; `render --all --check`
warm <= 1 s). Every line carries the load average when it was measured, and `axolotl --help`
is timed in the same run as a yardstick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import Targets, axolotl_help, load, machine, median


def make_repo(root: Path, specs: int) -> list[str]:
    """A team repo at `root` with `specs` specs and rendered/ up to date; the spec paths."""
    axowrap = str(Path(sys.executable).parent / "axowrap")
    subprocess.run([axowrap, "init", str(root)], check=True, capture_output=True)
    example = (root / "specs" / "example.yaml").read_text()
    for i in range(specs - 1):
        (root / "specs" / f"model-{i:03d}.yaml").write_text(example.replace("epochs: 1", f"epochs: {1 + i % 3}"))
    env = {**os.environ, "AXOWRAP_NO_CACHE": "1"}
    subprocess.run([axowrap, "render", "--all"], cwd=root, check=True, capture_output=True, env=env)
    return sorted(str(p.relative_to(root)) for p in (root / "specs").glob("*.yaml"))


def timed(argv: list[str], repeat: int, cwd: Path, env: dict[str, str], before: Callable[[int], None]) -> list[float]:
    """Wall seconds of `repeat` cold runs, `before(i)` called (untimed) ahead of run i."""
    out = []
    for i in range(repeat):
        before(i)
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def size(targets: Targets, n: int, repeat: int) -> None:
    axowrap = str(Path(sys.executable).parent / "axowrap")
    with tempfile.TemporaryDirectory() as tmp:
        repo, cache = Path(tmp) / "ft", Path(tmp) / "cache"
        files = make_repo(repo, n)
        env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
        env.pop("AXOWRAP_NO_CACHE", None)

        def empty(_: int) -> None:
            shutil.rmtree(cache, ignore_errors=True)

        def edit(i: int) -> None:  # a different spec each run, so each run has exactly one miss
            spec = repo / files[i % len(files)]
            spec.write_text(spec.read_text() + f"# edit {time.time_ns()}\n")
            past = time.time() - 5  # not "racy" (written during the check): see checkcache.RACY_NS
            os.utime(spec, (past, past))

        def nothing(_: int) -> None:
            pass

        figures = {}

        def run(label: str, argv: list[str], before: Callable[[int], None]) -> float:
            # the load just before the runs: what else the 2 cores were doing meanwhile
            at = load()
            t = median(timed([axowrap, *argv], repeat, repo, env, before))
            figures[label] = t
            print(f"  {n} specs, {label:<50} {t:7.3f} s  (median of {repeat}; {at})")
            return t

        named = run("validate FILES, cold cache", ["validate", *files], empty)
        cold = run("validate --all, cold cache", ["validate", "--all"], empty)
        run("validate --all --jobs 1, cold cache", ["validate", "--all", "--jobs", "1"], empty)
        check_cold = run("render --all --check, cold cache", ["render", "--all", "--check"], empty)
        timed([axowrap, "validate", "--all"], 1, repo, env, nothing)  # fill the cache
        one = run("validate --all, warm cache, one spec changed", ["validate", "--all"], edit)
        timed([axowrap, "render", "--all"], 1, repo, env, nothing)  # rendered/ matches the edits
        check_warm = run("render --all --check, warm cache", ["render", "--all", "--check"], nothing)
        run("validate --all --no-cache", ["validate", "--all", "--no-cache"], nothing)
    if n == 50:
        targets.check("validate --all, 50 specs <= 5 s (cold cache)", cold <= 5.0, f"{cold:.3f} s")
        targets.check("render --all --check, 50 specs <= 5 s (cold cache)", check_cold <= 5.0, f"{check_cold:.3f} s")
        targets.check("--all discovery overhead <= 0.3 s", cold - named <= 0.3, f"{cold - named:+.3f} s")
    if n == 500:
        targets.check("validate --all, 500 specs, cold cache <= 3 s", cold <= 3.0, f"{cold:.3f} s")
        targets.check("validate --all, 500 specs, warm, one changed <= 1 s", one <= 1.0, f"{one:.3f} s")
        targets.check("render --all --check, 500 specs, warm <= 1 s", check_warm <= 1.0, f"{check_warm:.3f} s")


def main(targets: Targets, repeat: int = 3) -> None:
    print(
        f"team checks on {machine()}, {os.cpu_count()} CPUs for --jobs; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
    )
    at = load()
    reference = axolotl_help()
    if reference is not None:
        print(f"  reference: axolotl --help {reference:.3f} s (median of 3; {at})")
    for n in (50, 500):
        size(targets, n, repeat)


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
