"""`axowrap sweep`: points from --grid/--range, priced before anything runs (unfit points
refused), then a real 2x2 sweep of the tiny model on CPU: one shared tokenization, a
leaderboard from the real eval, the loss curves in one PNG, and `promote` editing the spec."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, write
from helpers import run_cli

from axowrap.errors import UsageError
from axowrap.sweep.grid import parse_grid, parse_range, points, split_values


def test_grid_values_are_yaml_and_commas_inside_brackets_stay() -> None:
    assert split_values('8,[q_proj, v_proj],"a,b",{x: 1}') == ["8", "[q_proj, v_proj]", '"a,b"', "{x: 1}"]
    axis = parse_grid("lora.target=[q_proj,v_proj],all-linear")
    assert [o.value for o in axis.values] == [["q_proj", "v_proj"], "all-linear"]
    grid = points([parse_grid("training.learning_rate=1e-4,3e-4"), parse_grid("lora.r=8,16")], [])
    assert [[(o.key, o.value) for o in p] for p in grid] == [
        [("training.learning_rate", 1e-4), ("lora.r", 8)],
        [("training.learning_rate", 1e-4), ("lora.r", 16)],
        [("training.learning_rate", 3e-4), ("lora.r", 8)],
        [("training.learning_rate", 3e-4), ("lora.r", 16)],
    ]


def test_random_points_are_drawn_from_the_ranges_reproducibly() -> None:
    ranges = [parse_range("training.learning_rate=log:1e-5..1e-3"), parse_range("lora.r=4..64")]
    first = points([], ranges, random_n=5, seed=3)
    assert first == points([], ranges, random_n=5, seed=3) and len(first) == 5
    for point in first:
        lr, r = (o.value for o in point)
        assert 1e-5 <= lr <= 1e-3 and isinstance(r, int) and 4 <= r <= 64


@pytest.mark.parametrize(
    ("grid", "ranges", "n", "start"),
    [
        ([], [], None, "a sweep needs --grid"),
        (["lora.r"], [], None, "--grid 'lora.r': expected KEY=V1,V2"),
        (["lora.r=8,8"], [], None, "--grid 'lora.r=8,8': a value is listed twice"),
        ([], ["lora.r=4..64"], None, "--range values are sampled: give --random N"),
        ([], ["training.learning_rate=log:0..1"], 2, "--range 'training.learning_rate=log:0..1': a log range"),
    ],
)
def test_sweep_definitions_that_cannot_work(grid: list[str], ranges: list[str], n: int | None, start: str) -> None:
    with pytest.raises(UsageError) as caught:
        points([parse_grid(g) for g in grid], [parse_range(r) for r in ranges], n)
    assert caught.value.message.startswith(start), caught.value.message


def test_points_that_do_not_fit_are_refused_before_anything_runs(workdir: Path) -> None:
    write(
        workdir / "big.yaml",
        "task: sql\nbase_model: meta-llama/Llama-3.1-8B-Instruct\ndatasets: [{path: examples/data/sql.jsonl}]\n"
        "eval: {holdout: 0.1}\ncompute: {target: a10g-24gb}\n",
    )
    res = run_cli("sweep", "big.yaml", "--grid", "method=lora,full")
    assert res.code == 1
    assert res.out.splitlines()[0].startswith("plan p1 (method=lora): ") and "fits" in res.out.splitlines()[0]
    assert "DOES NOT FIT" in res.out.splitlines()[1]
    assert res.err.startswith("error: 1 of 2 point(s) do not fit the target: p2 (method=full): does not fit: ")
    assert not any(p.name != "sweeps" for p in Path("runs").iterdir())  # nothing prepared, nothing trained
    (record,) = Path("runs/sweeps").glob("*/sweep.json")
    assert [p["status"] for p in json.loads(record.read_text())["points"]] == ["pending", "refused"]


def test_a_sweep_needs_held_out_rows_and_valid_values(workdir: Path) -> None:
    text = (workdir / "examples" / "sql.yaml").read_text().replace("eval: {holdout: 0.05}", "eval: {holdout: null}")
    write(workdir / "noeval.yaml", text.replace("data/", "examples/data/"))
    res = run_cli("sweep", "noeval.yaml", "--grid", "lora.r=8,16")
    assert res.code == 2 and "a sweep ranks its points by the domain eval" in res.err
    res = run_cli("sweep", "examples/sql.yaml", "--grid", "lora.r=8,0", "--dry-run")
    assert res.code == 1 and "--set lora.r=0: error: lora.r: " in res.err


SPEC = """\
task: completion
base_model: {model}
datasets: [{{path: data/completion.jsonl}}]
training: {{max_steps: 4, micro_batch_size: 2, gradient_accumulation_steps: 1, sequence_len: 256, save_steps: 4}}
eval: {{holdout: 0.1}}
export: {{merge: false, gguf: []}}
compute: {{target: cpu}}
"""


@pytest.mark.slow
@pytest.mark.axolotl
def test_a_2x2_sweep_of_the_tiny_model(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    spec = write(tmp_path / "tiny.yaml", SPEC.format(model=tiny_model))
    monkeypatch.chdir(tmp_path)
    res = run_cli("sweep", "tiny.yaml", "--grid", "training.learning_rate=1e-3,1e-2", "--grid", "lora.r=4,8", "--json")
    assert res.code == 0, res.err + res.out[-3000:]
    events = [json.loads(line) for line in res.out.splitlines()]
    assert [e["point"] for e in events if e["event"] == "point"] == ["p1", "p2", "p3", "p4"]
    (sweep,) = Path("runs/sweeps").iterdir()
    runs = [Path(e["run"]) for e in events if e["event"] == "point"]
    assert len(set(runs)) == 4

    # one tokenization served every point: Axolotl prepared the data once, then loaded it
    logs = [(run / "logs" / "train.log").read_text() for run in runs]
    assert sum("Unable to find prepared dataset" in log for log in logs) == 1
    assert sum("Loading prepared dataset from disk" in log for log in logs) == 3
    assert len([p for p in (sweep / "prepared").iterdir() if p.is_dir()]) == 1
    for run in runs:
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["shared_data"] == str(sweep.resolve()) and len(manifest["spec"]["overrides"]) == 2

    # the leaderboard: each point's metric is its own eval's, best (lowest perplexity) first
    board = json.loads(run_cli("sweep", "status", "--json").out)
    assert board["ok"] is True and board["metric"] == "word_perplexity"  # what eval.metric: perplexity reports
    for row in board["rows"]:
        results = json.loads((Path(row["run"]) / "eval" / "results.json").read_text())
        assert row["metric"] == results["metrics"]["word_perplexity"]["tuned"]
        assert row["base"] == results["metrics"]["word_perplexity"]["base"]
        assert row["train_s"] > 0 and row["eval_s"] > 0 and row["final_loss"] > 0 and row["cost"] is None  # CPU
    scores = [row["metric"] for row in board["rows"]]
    assert scores == sorted(scores) and len(set(scores)) > 1  # different points really trained differently
    assert (sweep / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = run_cli("sweep", "status").out
    assert "word_perplexity" in shown and "loss curves: " in shown

    # promote the winner: its values in the spec, with a comment naming the sweep
    best = board["rows"][0]
    res = run_cli("sweep", "promote", "best")
    assert res.code == 0, res.err
    data = yaml.safe_load(spec.read_text())
    lr, r = (v.split("=", 1)[1] for v in best["values"])
    assert data["training"]["learning_rate"] == float(lr) and data["lora"] == {"r": int(r)}
    assert f"# axowrap: lora.r from sweep {sweep.name} point {best['point']} (word_perplexity " in spec.read_text()
    explained = run_cli("render", "tiny.yaml", "--explain", "lora_r").out
    assert f"from sweep {sweep.name} point {best['point']}" in explained
    assert run_cli("validate", "tiny.yaml").code == 0
