"""Fuzzing at scale: >= 20,000 generated CLI calls, plus the corpus of malformed files.

Targets (issue 22): 0 exit-3 and 0 hangs in >= 20,000 hypothesis-generated calls across 8
commands that read a spec; 0 over the malformed corpus x every command that reads a file;
a ~1 KB YAML alias bomb refused in < 0.5 s with < 100 MB RSS (a fresh process).

Every call runs in-process through tests/fuzzkit.py (a terminal's strict UTF-8 streams, a
per-call alarm); the invariant is exit code in {0, 1, 2, 130}, no traceback, no hang.
`AXOWRAP_FUZZ_SPECS` sets the number of generated specs (default 2,560: x 8 commands = 20,480).
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Targets

sys.path.insert(0, str(REPO / "tests"))


class Tally:
    def __init__(self) -> None:
        self.calls = 0
        self.bad: collections.Counter[str] = collections.Counter()
        self.hangs = 0
        self.examples: dict[str, str] = {}
        self.slowest = 0.0

    def add(self, verdict: object) -> None:
        self.calls += 1
        self.slowest = max(self.slowest, verdict.seconds)  # type: ignore[attr-defined]
        if not verdict.ok:  # type: ignore[attr-defined]
            key = f"{verdict.argv[0]}: {verdict.why()}"  # type: ignore[attr-defined]
            self.bad[key] += 1
            self.hangs += verdict.hung  # type: ignore[attr-defined]
            self.examples.setdefault(key, verdict.describe())  # type: ignore[attr-defined]


def generated_specs(work: Path, n: int, tally: Tally) -> None:
    import fuzzkit as fk
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=fk.spec_values(), how=st.integers(0, 2))
    def one(data: object, how: int) -> None:
        spec = fk.write_text(work / "examples" / "fuzz.yaml", fk.dump(data, how))
        for template in fk.SPEC_COMMANDS:
            tally.add(fk.call(*fk.argv(template, str(spec)), cwd=work / "examples"))

    one()


def corpus(work: Path, tally: Tally) -> None:
    import fuzzkit as fk

    folder = work / "examples"
    fk.make_fifo(folder / "fifo.yaml")
    fk.make_symlink_loop(folder / "loop")
    names = []
    for name, data in fk.malformed_specs().items():
        (folder / f"{name}.yaml").write_bytes(data)
        names.append(f"{name}.yaml")
    names += ["fifo.yaml", "loop", "missing.yaml", "data"]
    for name in names:
        for template in fk.FILE_COMMANDS:
            tally.add(fk.call(*fk.argv(template, name), cwd=folder))
    for name, data in fk.malformed_data().items():
        (folder / "data" / name).write_bytes(data)
        for argv in (["data", "check", f"data/{name}", "--no-tokens"], ["data", "check", f"data/{name}"]):
            tally.add(fk.call(*argv, cwd=folder))


def alias_bomb() -> tuple[float, float, float, int, int]:
    """A fresh process running `axowrap validate` on a ~1 KB alias bomb: (seconds of the call
    with the CLI already imported, seconds of the whole process, peak RSS MB, exit code, bytes)."""
    import fuzzkit as fk

    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(fk.alias_bomb(levels=10, width=22), encoding="utf-8")
        # VmHWM, not ru_maxrss: the latter can carry the forking parent's peak across exec.
        code = (
            "import sys, time; import axowrap.cli.app; from axowrap.cli.main import main; t = time.perf_counter(); "
            f"rc = main(['validate', {str(bomb)!r}]); took = time.perf_counter() - t; "
            "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(took, hwm, rc, file=sys.stderr)"
        )
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp, timeout=120)
        wall = time.perf_counter() - start
        took, hwm_kb, rc = out.stderr.strip().splitlines()[-1].split()
        return float(took), wall, int(hwm_kb) / 1024, int(rc), len(bomb.read_bytes())


def main(targets: Targets) -> None:
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    n = int(os.environ.get("AXOWRAP_FUZZ_SPECS", "2560"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        shutil.copytree(REPO / "examples", work / "examples")
        generated = Tally()
        start = time.perf_counter()
        generated_specs(work, n, generated)
        gen_s = time.perf_counter() - start
        fixed = Tally()
        start = time.perf_counter()
        corpus(work, fixed)
        corpus_s = time.perf_counter() - start
    seconds, wall, rss, rc, size = alias_bomb()
    import fuzzkit as fk

    print(f"  generated specs: {n} x {len(fk.SPEC_COMMANDS)} commands = {generated.calls} calls in {gen_s:.0f} s")
    print(f"    not ok: {sum(generated.bad.values())} ({dict(generated.bad)}), hangs {generated.hangs}")
    print(f"    slowest call {generated.slowest:.2f} s")
    print(f"  malformed corpus: {fixed.calls} calls in {corpus_s:.0f} s; not ok: {sum(fixed.bad.values())}")
    print(f"    slowest call {fixed.slowest:.2f} s")
    for key, text in [*generated.examples.items(), *fixed.examples.items()][:5]:
        print(f"  --- {key}\n{text[:2000]}")
    print(
        f"  alias bomb ({size} bytes): exit {rc} in {seconds:.3f} s ({wall:.2f} s with start-up), peak RSS {rss:.0f} MB"
    )
    targets.check(">= 20,000 generated calls", generated.calls >= 20_000, f"{generated.calls}")
    targets.check("0 exit-3 / tracebacks / hangs (generated)", not generated.bad, f"{sum(generated.bad.values())}")
    targets.check("0 exit-3 / tracebacks / hangs (corpus)", not fixed.bad, f"{sum(fixed.bad.values())}")
    targets.check("alias bomb refused (exit 1)", rc == 1, f"exit {rc}")
    targets.check("alias bomb < 0.5 s", seconds < 0.5, f"{seconds:.3f} s")
    targets.check("alias bomb < 100 MB RSS", rss < 100, f"{rss:.0f} MB")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
