"""A sweep's folder and its record, sweep.json.

    <runs dir>/sweeps/<spec name>-<8 hex>/
      sweep.json    the spec, how the points were made, each point: its --set values, its run
                    directory, its plan, how it went (pending | done | failed | refused)
      data/         training rows shared by the points (one file per distinct content)
      prepared/     Axolotl's tokenized data, shared by the points whose data settings match
      loss.png      every point's training loss, overlaid (`axowrap sweep status`)

The 8 hex are of the spec's absolute path and the sweep's definition: the same command finds
the same sweep again (and resumes it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, UsageError
from axowrap.hashing import canonical_sha256
from axowrap.spec.overrides import Override, parse_overrides
from axowrap.yamlio import atomic_write

SWEEPS_DIR = "sweeps"
RECORD = "sweep.json"
PENDING, DONE, FAILED, REFUSED = "pending", "done", "failed", "refused"


@dataclass
class Point:
    id: str  # p1, p2, ...
    sets: list[str]  # the point's `--set` texts (KEY=VALUE), the sweep's common ones first
    status: str = PENDING
    run: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def overrides(self) -> tuple[Override, ...]:
        return parse_overrides(self.sets)

    def label(self, common: int) -> str:
        """The point's own values, `lora.r=8 training.learning_rate=1e-4` (not the common --set)."""
        return " ".join(self.sets[common:])


@dataclass
class Sweep:
    folder: Path
    spec: str  # absolute path of the spec
    definition: dict[str, Any]  # grid, ranges, random, seed, common --set
    points: list[Point]

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def common(self) -> int:
        """How many of each point's --set texts are the sweep's common ones."""
        return len(self.definition.get("set") or [])

    def point(self, pid: str) -> Point:
        for p in self.points:
            if p.id == pid:
                return p
        raise UsageError(
            f"sweep {self.id} has no point {pid!r}", hint=f"points: {', '.join(p.id for p in self.points)}"
        )

    def save(self) -> None:
        document = {
            "id": self.id,
            "spec": self.spec,
            "definition": self.definition,
            "points": [asdict(p) for p in self.points],
        }
        atomic_write(self.folder / RECORD, json.dumps(document, indent=2, default=str) + "\n")


def sweep_folder(runs_root: Path, spec_path: Path, name: str, definition: dict[str, Any]) -> Path:
    tag = canonical_sha256({"spec": str(spec_path.resolve()), "definition": definition})[:8]
    return runs_root.resolve() / SWEEPS_DIR / f"{name}-{tag}"


def load_sweep(folder: Path) -> Sweep:
    path = folder / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        points = [Point(**p) for p in data["points"]]
        return Sweep(folder.resolve(), str(data["spec"]), dict(data["definition"]), points)
    except FileNotFoundError:
        raise UsageError(
            f"{folder}: not a sweep (no {RECORD})", hint="start one with `axowrap sweep SPEC --grid KEY=V1,V2`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AxowrapError(f"{path}: cannot read the sweep record ({exc})", hint="start the sweep again") from None


def find_sweep(runs_root: Path, given: Path | None) -> Sweep:
    """The sweep in `given` (a sweep folder), else the newest one under the runs dir."""
    if given is not None:
        return load_sweep(given)
    found = sorted((runs_root / SWEEPS_DIR).glob(f"*/{RECORD}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(
            f"no sweep under {runs_root / SWEEPS_DIR}",
            hint="start one with `axowrap sweep SPEC --grid KEY=V1,V2`, or name its folder",
        )
    return load_sweep(found[-1].parent)
