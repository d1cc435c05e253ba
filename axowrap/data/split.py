"""Split held-out rows off the training data, deterministically, before training sees them.

Each spec dataset's rows are read by the one row reader (axowrap.data.readers: JSON lines,
JSON arrays, CSV, Parquet, Arrow, text) from its local file or its Hub dataset's files
(axowrap.data.sources). `max_rows` (or `run --max-rows`) keeps the first N rows in file order.
A row goes to the held-out set when a seeded hash of its canonical JSON falls under the
fraction, so the split is stable across runs and machines and does not depend on row order.
With `weight:` on the datasets the training rows are then mixed (axowrap.data.mixture). The
training rows are written to the run's data/ folder and the rendered config points there.

    data/train-<i>.jsonl         the training rows of spec dataset i
    data/holdout.jsonl           the held-out rows of every dataset, in dataset order
    data/holdout-sources.json    for each of those rows, the index of its dataset in the spec
                                 (the eval prompts a row the way its own dataset was trained)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from axowrap.data.mixture import mix_rows, table, targets, weights_of
from axowrap.data.readers import read_rows
from axowrap.data.sources import DataSource, open_source
from axowrap.spec.model import Spec
from axowrap.yamlio import atomic_write


@dataclass
class PreparedData:
    train_paths: list[Path]  # one per spec dataset, in order
    holdout_path: Path | None  # JSON lines, rows of every dataset
    seed: int
    fraction: float | None
    counts: dict[str, int] = field(default_factory=dict)  # train / holdout rows
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    sources: list[DataSource] = field(default_factory=list)  # where each dataset's rows came from
    max_rows: list[int | None] = field(default_factory=list)  # the row limit applied to each dataset
    mixture: list[dict[str, Any]] | None = None  # per dataset: weight, rows, rows in the mix, share

    def to_json(self) -> dict[str, Any]:
        return {
            "train_paths": [str(p) for p in self.train_paths],
            "holdout_path": str(self.holdout_path) if self.holdout_path else None,
            "seed": self.seed,
            "fraction": self.fraction,
            "counts": self.counts,
            "sha256": self.sha256,
            "inputs": [s.to_json() for s in self.sources],
            "max_rows": self.max_rows,
            "mixture": {"seed": self.seed, "datasets": self.mixture} if self.mixture else None,
        }


SOURCES = "holdout-sources.json"


def holdout_sources(data_dir: Path, n: int) -> list[int]:
    """The spec dataset index of each of the `n` held-out rows (all 0 for runs prepared before
    the sources were recorded)."""
    try:
        sources = json.loads((data_dir / SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [0] * n
    return [int(i) for i in sources] if isinstance(sources, list) and len(sources) == n else [0] * n


def canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def in_holdout(row: dict[str, Any], fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{canonical(row)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    text = "".join(canonical(r) + "\n" for r in rows)
    atomic_write(path, text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_limit(entry: dict[str, Any], max_rows: int | None) -> int | None:
    """The rows read from a dataset: its `max_rows`, the run's `--max-rows`, the smaller of both."""
    limits = [n for n in (entry.get("max_rows"), max_rows) if n is not None]
    return min(limits) if limits else None


def prepare_data(spec: Spec, data_dir: Path, *, max_rows: int | None = None, progress: bool = True) -> PreparedData:
    """Write the training split (and held-out rows) of every dataset into `data_dir` (a run
    directory's data/); Hub datasets are downloaded first (or read from the cache)."""
    ev = spec.data.get("eval") or {}
    fraction = ev.get("holdout") if "holdout_file" not in ev else None
    seed = int(spec.data["training"]["seed"])
    held: list[dict[str, Any]] = []
    held_from: list[int] = []
    trains: list[list[dict[str, Any]]] = []
    opened: list[DataSource] = []
    limits: list[int | None] = []
    for i, entry in enumerate(spec.data["datasets"]):
        source = open_source(spec, i, progress=progress)
        opened.append(source)
        limits.append(row_limit(entry, max_rows))
        train: list[dict[str, Any]] = []
        for row in islice(read_rows(source.files), limits[-1]):
            if fraction and in_holdout(row, fraction, seed):
                held.append(row)
                held_from.append(i)
            else:
                train.append(row)
        trains.append(train)
    weights = weights_of(spec.data["datasets"])
    mixture = None
    if weights is not None:
        rows = [len(t) for t in trains]
        mixture = table([s.shown for s in opened], weights, rows)
        trains = [mix_rows(t, n, seed + i) for i, (t, n) in enumerate(zip(trains, targets(weights, rows), strict=True))]
    train_paths: list[Path] = []
    sha: dict[str, str] = {}
    for i, train in enumerate(trains):
        out = data_dir / f"train-{i}.jsonl"
        sha[out.name] = _write_jsonl(out, train)
        train_paths.append(out)
    counts = {"train": sum(len(t) for t in trains), "holdout": 0}
    holdout_path = None
    if "holdout_file" in ev:
        local = spec.local_path(ev["holdout_file"])
        held = list(read_rows(local)) if local else []
        held_from = [0] * len(held)  # a holdout file is in the first dataset's format
    if held:
        holdout_path = data_dir / "holdout.jsonl"
        sha[holdout_path.name] = _write_jsonl(holdout_path, held)
        atomic_write(data_dir / SOURCES, json.dumps(held_from) + "\n")
        counts["holdout"] = len(held)
    return PreparedData(train_paths, holdout_path, seed, fraction, counts, sha, opened, limits, mixture)
