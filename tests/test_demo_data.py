"""The demos' specs and data (examples/demo/): valid, honest splits, gold SQL that really runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import EXAMPLES
from helpers import run_cli

from axowrap.evaluation.metrics import execution_match, parse_tool_call, sql_exact_match

DEMO = EXAMPLES / "demo"


def _rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DEMO / name).read_text(encoding="utf-8").splitlines()]


def test_demo_specs_validate() -> None:
    for spec in ("sql-demo.yaml", "tools-demo.yaml"):
        res = run_cli("validate", str(DEMO / spec))
        assert res.code == 0, res.out + res.err
        assert "ok" in res.out and "target cpu" in res.out


def test_split_is_disjoint_and_covers_every_database() -> None:
    train, held = _rows("train.jsonl"), _rows("heldout.jsonl")
    assert (len(train), len(held)) == (65, 40)  # one held-out question is 2.5 points
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    dbs = {r["context"].splitlines()[0] for r in held}
    assert dbs == {f"-- SQLite database: {db}" for db in ("restaurants", "geography", "scholar", "yelp")}
    assert all(set(r) == {"question", "context", "answer"} for r in train + held)


def test_every_gold_query_runs_and_every_held_out_one_returns_a_value() -> None:
    conn = sqlite3.connect(DEMO / "demo.sqlite")
    for row in _rows("heldout.jsonl"):
        # an empty gold answer proves nothing, nor does one of only NULLs (a ratio over no rows:
        # a wrong query that also divides by nothing matched it)
        values = [v for r in conn.execute(row["answer"]).fetchall() for v in r]
        assert any(v is not None for v in values), row["question"]
    for row in _rows("train.jsonl"):
        conn.execute(row["answer"]).fetchall()  # raises if a query does not run


def test_tool_call_split_is_disjoint_and_every_held_out_row_ends_in_a_call() -> None:
    train, held = _rows("tools_train.jsonl"), _rows("tools_heldout.jsonl")
    assert (len(train), len(held)) == (79, 40)
    key = lambda r: json.dumps(r["conversations"][1:], sort_keys=True)  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in held}
    for row in train + held:
        turns = row["conversations"]
        assert turns[0]["from"] == "system" and "You can call these functions" in turns[0]["value"]
        assert turns[-1]["from"] == "function_call" and parse_tool_call(turns[-1]["value"]) is not None
        assert not any(t["from"] == "function_call" for t in turns[:-1])  # up to the first call only


def test_the_metrics_separate_right_from_wrong_on_this_data() -> None:
    """The eval's metrics on the demo rows: gold scores 1, a plausible wrong query 0."""
    row = next(r for r in _rows("heldout.jsonl") if "restaurant" in r["answer"].lower())
    database = DEMO / "demo.sqlite"
    assert sql_exact_match(row["answer"], row["answer"]) == 1.0
    assert execution_match(row["answer"].lower(), row["answer"], database) == 1.0
    wrong = "SELECT name FROM restaurant;"
    assert sql_exact_match(wrong, row["answer"]) == 0.0
    assert execution_match(wrong, row["answer"], database) == 0.0


def test_schema_context_matches_the_database() -> None:
    conn = sqlite3.connect(DEMO / "demo.sqlite")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for row in _rows("heldout.jsonl"):
        named = {line.split()[2] for line in row["context"].splitlines() if line.startswith("CREATE TABLE")}
        assert named and named <= tables


def test_demo_files_are_documented() -> None:
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    for name in (
        "train.jsonl",
        "heldout.jsonl",
        "demo.sqlite",
        "tools_train.jsonl",
        "tools_heldout.jsonl",
        "Apache-2.0",
        "defog-data",
        "glaive",
    ):
        assert name in readme
    assert Path(DEMO / "build_data.py").is_file() and Path(DEMO / "build_tools_data.py").is_file()
