"""The held-out split is deterministic, disjoint from training, and independent of row order."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write

from axowrap.data.split import prepare_data
from axowrap.run.rundir import RunDir
from axowrap.validate import load_spec


def test_split_is_deterministic_and_disjoint(workdir: Path) -> None:
    spec = load_spec("examples/sql.yaml")
    a = prepare_data(spec, RunDir(workdir / "run-a").data)
    b = prepare_data(spec, RunDir(workdir / "run-b").data)
    assert a.sha256 == b.sha256 and a.counts == b.counts
    train = [json.loads(x) for x in a.train_paths[0].read_text().splitlines()]
    held = [json.loads(x) for x in a.holdout_path.read_text().splitlines()]
    assert a.counts == {"train": len(train), "holdout": len(held)}
    assert len(train) + len(held) == 60 and 0 < len(held) < 12
    assert not {json.dumps(r, sort_keys=True) for r in train} & {json.dumps(r, sort_keys=True) for r in held}


def test_split_does_not_depend_on_row_order(workdir: Path) -> None:
    rows = Path("examples/data/sql.jsonl").read_text().splitlines()
    write(workdir / "examples" / "data" / "rev.jsonl", "\n".join(reversed(rows)) + "\n")
    write(
        workdir / "examples" / "rev.yaml",
        Path("examples/sql.yaml").read_text().replace("data/sql.jsonl", "data/rev.jsonl"),
    )
    a = prepare_data(load_spec("examples/sql.yaml"), RunDir(workdir / "a").data)
    b = prepare_data(load_spec("examples/rev.yaml"), RunDir(workdir / "b").data)
    assert sorted(a.holdout_path.read_text().splitlines()) == sorted(b.holdout_path.read_text().splitlines())
