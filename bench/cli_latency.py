"""CLI latency: cold `axowrap render|validate` vs `axolotl --help`; 100 specs in one call.

Targets (issue 2): render and validate cold median <= 0.3 s and >= 10x faster than
`axolotl --help`; `axowrap validate` of 100 specs <= 2 s.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from common import REPO, Targets, machine, median, time_cmd


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
        render = median(time_cmd([*axowrap, "render", "examples/sql.yaml", "-o", "out.yaml"], repeat=repeat, cwd=work))
        validate = median(time_cmd([*axowrap, "validate", "examples/sql.yaml"], repeat=repeat, cwd=work))
        hundred = median(time_cmd([*axowrap, "validate", *specs], repeat=3, cwd=work))
        axolotl = median(time_cmd([str(bindir / "axolotl"), "--help"], repeat=3, cwd=work))
    print(f"cli latency on {machine()}")
    print(f"  axowrap render (cold, median of {repeat}):   {render:.3f} s")
    print(f"  axowrap validate (cold, median of {repeat}): {validate:.3f} s")
    print(f"  axowrap validate, 100 specs in one call:    {hundred:.3f} s")
    print(f"  axolotl --help (median of 3):               {axolotl:.3f} s")
    targets.check("render <= 0.3 s", render <= 0.3, f"{render:.3f} s")
    targets.check("validate <= 0.3 s", validate <= 0.3, f"{validate:.3f} s")
    targets.check("render >= 10x faster than axolotl --help", axolotl / render >= 10, f"{axolotl / render:.1f}x")
    targets.check("validate >= 10x faster than axolotl --help", axolotl / validate >= 10, f"{axolotl / validate:.1f}x")
    targets.check("100 specs <= 2 s", hundred <= 2.0, f"{hundred:.3f} s")


if __name__ == "__main__":
    t = Targets()
    main(t)
    raise SystemExit(1 if t.missed else 0)
