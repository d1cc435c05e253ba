"""Row limits (`max_rows`, `run --max-rows`) and mixtures (`weight:`): what the run directory
gets, deterministically, and what `data check` and `plan` say about each source's share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import write
from helpers import run_cli

from axowrap.data.mixture import mix_rows, targets
from axowrap.data.split import prepare_data
from axowrap.run.rundir import RunDir
from axowrap.validate import load_spec

REPO = Path(__file__).resolve().parent.parent
ALPACA = REPO / "tests" / "data" / "alpaca_sample.jsonl"

SPEC = """\
task: instruct
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets:
{datasets}training: {{seed: 7}}
eval: {{holdout: 0.1}}
compute: {{target: cpu}}
"""


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rows = lines(ALPACA)
    write(tmp_path / "data" / "big.jsonl", "".join(json.dumps(r) + "\n" for r in rows[:150]))
    write(tmp_path / "data" / "small.jsonl", "".join(json.dumps(r) + "\n" for r in rows[150:200]))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def spec(folder: Path, *entries: str, name: str = "spec.yaml") -> Path:
    text = "".join(f"  - {{path: data/{e}, format: alpaca}}\n" if "," not in e else f"  - {{{e}}}\n" for e in entries)
    return write(folder / name, SPEC.format(datasets=text))


def test_targets_keep_the_total_and_follow_the_weights() -> None:
    assert targets([3.0, 1.0], [150, 50]) == [150, 50]
    assert targets([1.0, 1.0], [150, 50]) == [100, 100]
    assert targets([1.0, 1.0, 1.0], [10, 10, 0]) == [7, 7, 0]  # an empty source gives nothing
    assert sum(targets([0.2, 0.3, 0.5], [33, 33, 34])) == 100
    assert mix_rows(list("abc"), 7, 1)[:6] == list("abcabc") and len(mix_rows(list("abc"), 7, 1)) == 7
    assert mix_rows(list("abcdef"), 3, 1) == mix_rows(list("abcdef"), 3, 1)  # seeded


def test_max_rows_reads_the_head_before_the_split(folder: Path) -> None:
    path = spec(folder, "path: data/big.jsonl, format: alpaca, max_rows: 40")
    prepared = prepare_data(load_spec(path), RunDir(folder / "run").data)
    assert prepared.counts["train"] + prepared.counts["holdout"] == 40 and prepared.max_rows == [40]
    head = lines(folder / "data" / "big.jsonl")[:40]
    kept = lines(prepared.train_paths[0]) + lines(prepared.holdout_path)  # type: ignore[arg-type]
    assert sorted(json.dumps(r, sort_keys=True) for r in kept) == sorted(json.dumps(r, sort_keys=True) for r in head)
    quick = prepare_data(load_spec(path), RunDir(folder / "quick").data, max_rows=10)  # `run --max-rows 10`
    assert quick.counts["train"] + quick.counts["holdout"] == 10 and quick.max_rows == [10]


def test_run_max_rows_flag_is_recorded_and_retrains(folder: Path) -> None:
    path = spec(folder, "big.jsonl")
    assert run_cli("run", str(path), "--dry-run", "--steps", "train", "--max-rows", "20").code == 0
    (run,) = (folder / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["datasets"][0]["max_rows"] == 20
    assert len(lines(run / "data" / "train-0.jsonl")) + len(lines(run / "data" / "holdout.jsonl")) == 20
    res = run_cli("run", str(path), "--dry-run", "--steps", "train", "--max-rows", "0")
    assert res.code == 2 and "0 is not in the range x>=1" in res.err


def test_mixture_is_written_deterministically_with_its_seed(folder: Path) -> None:
    path = spec(
        folder, "path: data/big.jsonl, format: alpaca, weight: 1", "path: data/small.jsonl, format: alpaca, weight: 3"
    )
    a = prepare_data(load_spec(path), RunDir(folder / "a").data)
    b = prepare_data(load_spec(path), RunDir(folder / "b").data)
    assert a.sha256 == b.sha256  # the same rows, the same files
    big, small = (len(lines(p)) for p in a.train_paths)
    total = big + small
    assert abs(small / total - 0.75) < 0.01  # the small dataset is repeated to reach its share
    assert a.mixture is not None and [m["rows_in_mix"] for m in a.mixture] == [big, small]
    small_rows = {json.dumps(r, sort_keys=True) for r in lines(folder / "data" / "small.jsonl")}
    assert {json.dumps(r, sort_keys=True) for r in lines(a.train_paths[1])} <= small_rows
    held = {json.dumps(r, sort_keys=True) for r in lines(a.holdout_path)}  # type: ignore[arg-type]
    assert not held & {json.dumps(r, sort_keys=True) for p in a.train_paths for r in lines(p)}
    assert a.to_json()["mixture"]["seed"] == 7
    other = path.read_text().replace("seed: 7", "seed: 8")
    c = prepare_data(load_spec(write(folder / "other.yaml", other)), RunDir(folder / "c").data)
    assert c.sha256 != a.sha256  # another seed, another sample


def test_data_check_and_plan_show_each_share(folder: Path) -> None:
    path = spec(
        folder, "path: data/big.jsonl, format: alpaca, weight: 1", "path: data/small.jsonl, format: alpaca, weight: 1"
    )
    res = run_cli("data", "check", str(path), "--json")
    assert res.code == 0, res.err
    mixture = json.loads(res.out)["mixture"]
    assert [m["source"] for m in mixture] == ["data/big.jsonl", "data/small.jsonl"]
    assert [m["row_share"] for m in mixture] == [0.5, 0.5]
    assert all(0 < m["token_share"] < 1 for m in mixture) and sum(m["token_share"] for m in mixture) == pytest.approx(
        1, abs=1e-3
    )
    text = run_cli("data", "check", str(path), "--no-tokens")
    assert "mixture" in text.out and "50.0%" in text.out
    plan = run_cli("plan", str(path), "--json")
    assert json.loads(plan.out)["plans"][0]["mixture"] == mixture
    assert "% tokens" in run_cli("plan", str(path)).out


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            ["path: data/big.jsonl, format: alpaca, weight: 0"],
            "datasets[0].weight: 0 is less than or equal to the minimum of 0",
        ),
        (
            ["path: data/big.jsonl, format: alpaca, max_rows: 0"],
            "datasets[0].max_rows: 0 is less than the minimum of 1",
        ),
        (
            ["path: data/big.jsonl, format: alpaca, weight: 1", "path: data/c4.txt, format: text, weight: 1"],
            "datasets[1].format: a mixture of generated answers (datasets[0], 'alpaca') and raw text ('text'): "
            "the held-out eval scores one kind of row and would fail after training",
        ),
    ],
)
def test_bad_mixture_input_is_one_clear_error(folder: Path, entries: list[str], message: str) -> None:
    write(folder / "data" / "c4.txt", "some text\nmore text\n")
    res = run_cli("validate", str(spec(folder, *entries)))
    assert res.code == 1 and message in res.out, res.out
