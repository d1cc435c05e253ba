"""Split held-out rows off the training data, deterministically, before training sees them.

Each local dataset file is read row by row (JSON lines, a JSON array, or CSV); a row goes
to the held-out set when a seeded hash of its canonical JSON falls under the fraction, so the
split is stable across runs and machines and does not depend on row order. The training
rows are written to the run's data/ folder and the rendered config points there.

    data/holdout.jsonl           the held-out rows of every dataset, in dataset order
    data/holdout-sources.json    for each of those rows, the index of its dataset in the spec
                                 (the eval prompts a row the way its own dataset was trained)
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
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

    def to_json(self) -> dict[str, Any]:
        return {
            "train_paths": [str(p) for p in self.train_paths],
            "holdout_path": str(self.holdout_path) if self.holdout_path else None,
            "seed": self.seed,
            "fraction": self.fraction,
            "counts": self.counts,
            "sha256": self.sha256,
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


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a local JSON/JSONL/CSV file (a malformed file is a clear error)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                yield from csv.DictReader(fh)
            return
        with path.open(encoding="utf-8") as fh:
            first = fh.read(1)
            while first and first.isspace():
                first = fh.read(1)
            fh.seek(0)
            if first == "[":
                try:
                    rows = json.load(fh)
                except (ValueError, RecursionError) as exc:  # also numbers over Python's digit limit
                    why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
                    raise AxowrapError(f"{path}: invalid JSON ({why})", hint="run `axowrap data check` on it") from None
                yield from rows if isinstance(rows, list) else [rows]
                return
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except (ValueError, RecursionError) as exc:  # also numbers over Python's digit limit
                        why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
                        raise AxowrapError(
                            f"{path}:{n}: invalid JSON ({why})", hint="run `axowrap data check` on it"
                        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AxowrapError(f"{path}: cannot read: {exc}") from None


def canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def in_holdout(row: dict[str, Any], fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{canonical(row)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    text = "".join(canonical(r) + "\n" for r in rows)
    atomic_write(path, text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare_data(spec: Spec, data_dir: Path) -> PreparedData:
    """Write the training split (and held-out rows) of every local dataset into `data_dir`
    (a run directory's data/)."""
    ev = spec.data.get("eval") or {}
    fraction = ev.get("holdout") if "holdout_file" not in ev else None
    seed = int(spec.data["training"]["seed"])
    train_paths: list[Path] = []
    held: list[dict[str, Any]] = []
    sources: list[int] = []
    counts = {"train": 0, "holdout": 0}
    sha: dict[str, str] = {}
    for i, entry in enumerate(spec.data["datasets"]):
        source = spec.local_path(entry["path"])
        if source is None:
            raise AxowrapError(
                f"datasets[{i}].path {entry['path']!r} is a Hub dataset: runs need local files here",
                hint="download it to a file and point `path` at it",
            )
        train: list[dict[str, Any]] = []
        for row in read_rows(source):
            if fraction and in_holdout(row, fraction, seed):
                held.append(row)
                sources.append(i)
            else:
                train.append(row)
        out = data_dir / f"train-{i}.jsonl"
        sha[out.name] = _write_jsonl(out, train)
        train_paths.append(out)
        counts["train"] += len(train)
    holdout_path = None
    if "holdout_file" in ev:
        source = spec.local_path(ev["holdout_file"])
        held = list(read_rows(source)) if source else []
        sources = [0] * len(held)  # a holdout file is in the first dataset's format
    if held:
        holdout_path = data_dir / "holdout.jsonl"
        sha[holdout_path.name] = _write_jsonl(holdout_path, held)
        atomic_write(data_dir / SOURCES, json.dumps(sources) + "\n")
        counts["holdout"] = len(held)
    return PreparedData(train_paths, holdout_path, seed, fraction, counts, sha)
