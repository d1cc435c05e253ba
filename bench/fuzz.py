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
import json
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


def _loop(strategy: object, n: int, body: object) -> None:
    """Run `body(example)` on `n` examples of a hypothesis strategy (no shrinking, no database:
    every call is counted in a Tally, none raises)."""
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)  # type: ignore[arg-type]
    def one(example: object) -> None:
        body(example)  # type: ignore[operator]

    one()


def generated_specs(work: Path, n: int, tally: Tally) -> None:
    import fuzzkit as fk
    from hypothesis import strategies as st

    def body(example: tuple[object, int]) -> None:
        spec = fk.write_text(work / "examples" / "fuzz.yaml", fk.dump(*example))
        for template in fk.SPEC_COMMANDS:
            tally.add(fk.call(*fk.argv(template, str(spec)), cwd=work / "examples"))

    _loop(st.tuples(fk.spec_values(), st.integers(0, 2)), n, body)


def generated_others(work: Path, n: int, tally: Tally) -> None:
    """Raw Axolotl configs, data rows and damaged run directories, `n` of each."""
    import fuzzkit as fk
    from hypothesis import strategies as st

    folder = work / "examples"

    def config(example: tuple[object, int]) -> None:
        path = fk.write_text(folder / "fuzz.axolotl.yaml", fk.dump(*example))
        tally.add(fk.call("validate", str(path), cwd=folder))
        tally.add(fk.call("diff", str(path), "sql.yaml", cwd=folder))

    def rows(example: tuple[str, bytes]) -> None:
        suffix, data = example
        path = folder / "data" / f"fuzz{suffix}"
        path.write_bytes(data)
        tally.add(fk.call("data", "check", str(path), "--no-tokens", cwd=folder))
        spec = fk.write_text(folder / "rows.yaml", fk.SPEC_HEAD.replace("data/sql.jsonl", f"data/fuzz{suffix}"))
        for template in (("validate", "{f}"), ("run", "{f}", "--dry-run")):
            tally.add(fk.call(*fk.argv(template, str(spec)), cwd=folder))

    _loop(st.tuples(fk.config_values(), st.integers(0, 2)), n, config)
    _loop(fk.row_files(), n, rows)
    assert fk.call("run", "sql.yaml", "--dry-run", cwd=folder).code == 0
    run = next((folder / "runs").glob("sql-*"))
    state = {"version": 1, "steps": {"train": {"status": "running", "fingerprint": "x", "outputs": [], "pid": 1}}}
    (run / "state.json").write_text(json.dumps(state))
    pristine = folder / "pristine-run"
    shutil.copytree(run, pristine)
    originals = {name: (run / name).read_text() for name in fk.RUNDIR_FILES}

    def damaged(example: tuple[str, bytes]) -> None:
        shutil.rmtree(run)
        shutil.copytree(pristine, run)
        (run / example[0]).write_bytes(example[1])
        for template in fk.RUN_COMMANDS:
            tally.add(fk.call(*fk.argv(template, str(run)), cwd=folder))

    _loop(fk.rundir_files(originals), n, damaged)


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
    """A fresh process running `axowrap validate` on a ~1 KB alias bomb: (seconds of the call,
    after a first validate imported what validation needs; seconds of the whole process; peak
    RSS MB; exit code; bytes)."""
    import fuzzkit as fk

    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text(fk.alias_bomb(levels=10, width=22), encoding="utf-8")
        # VmHWM, not ru_maxrss: the latter can carry the forking parent's peak across exec.
        plain = Path(tmp) / "plain.yaml"
        plain.write_text("task: sql\n", encoding="utf-8")
        # the first validate imports what validation needs (jsonschema, the schemas): not the bomb's cost
        code = (
            "import sys, time; from axowrap.cli.main import main; "
            f"main(['validate', {str(plain)!r}]); t = time.perf_counter(); "
            f"rc = main(['validate', {str(bomb)!r}]); took = time.perf_counter() - t; "
            "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(took, hwm, rc, file=sys.stderr)"
        )
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp, timeout=120)
        wall = time.perf_counter() - start
        took, hwm_kb, rc = out.stderr.strip().splitlines()[-1].split()
        return float(took), wall, int(hwm_kb) / 1024, int(rc), len(bomb.read_bytes())


def _report(name: str, tally: Tally, seconds: float) -> None:
    print(f"  {name}: {tally.calls} calls in {seconds:.0f} s; not ok: {sum(tally.bad.values())} {dict(tally.bad)}")
    print(f"    hangs {tally.hangs}, slowest call {tally.slowest:.2f} s")
    for key, text in list(tally.examples.items())[:3]:
        print(f"  --- {key}\n{text[:2000]}")


def main(targets: Targets) -> None:
    import fuzzkit as fk

    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    n = int(os.environ.get("AXOWRAP_FUZZ_SPECS", "2560"))
    others = int(os.environ.get("AXOWRAP_FUZZ_OTHERS", "300"))
    tallies: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        shutil.copytree(REPO / "examples", work / "examples")
        for name, job in (
            (f"generated specs ({n} x {len(fk.SPEC_COMMANDS)} commands)", lambda t: generated_specs(work, n, t)),
            (f"generated configs, rows, run directories ({others} each)", lambda t: generated_others(work, others, t)),
            ("malformed corpus x every command that reads a file", lambda t: corpus(work, t)),
        ):
            tally = tallies[name] = Tally()
            start = time.perf_counter()
            job(tally)
            _report(name, tally, time.perf_counter() - start)
    specs, other, fixed = tallies.values()
    targets.check(">= 20,000 generated spec calls", specs.calls >= 20_000, f"{specs.calls}")
    for name, tally in tallies.items():
        targets.check(f"0 exit-3 / tracebacks / hangs: {name}", not tally.bad, f"{sum(tally.bad.values())}")
    try:
        seconds, wall, rss, rc, size = alias_bomb()
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        targets.check("alias bomb refused", False, f"the check itself failed: {exc}")
        return
    print(
        f"  alias bomb ({size} bytes): exit {rc} in {seconds:.3f} s ({wall:.2f} s with start-up), peak RSS {rss:.0f} MB"
    )
    targets.check("alias bomb refused (exit 1)", rc == 1, f"exit {rc}")
    targets.check("alias bomb < 0.5 s", seconds < 0.5, f"{seconds:.3f} s")
    targets.check("alias bomb < 100 MB RSS", rss < 100, f"{rss:.0f} MB")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
