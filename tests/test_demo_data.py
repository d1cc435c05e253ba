"""The demos' specs and data (examples/demo/): valid, honest splits, gold SQL that really runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
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


def test_geo_split_is_the_question_split_and_disjoint() -> None:
    """The SQL demo's data (GeoQuery): one database, held-out questions never trained on."""
    train, held = _rows("geo_train.jsonl"), _rows("geo_heldout.jsonl")
    assert (len(train), len(held)) == (547, 40)  # one held-out question is 2.5 points
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    assert {r["context"] for r in train + held} == {held[0]["context"]}
    assert held[0]["context"].startswith("-- SQLite database: geography\n")
    assert all(set(r) == {"question", "context", "answer"} for r in train + held)


def test_the_metrics_separate_right_from_wrong_on_the_geo_data() -> None:
    row = next(r for r in _rows("geo_heldout.jsonl") if "from state" in r["answer"] and "'" in r["answer"])
    database = DEMO / "geo.sqlite"
    assert sql_exact_match(row["answer"], row["answer"]) == 1.0
    assert execution_match(row["answer"].upper(), row["answer"], database) == 0.0  # values are case-sensitive
    assert execution_match(" ".join(row["answer"].split()), row["answer"], database) == 1.0
    wrong = "SELECT state_name FROM state;"
    assert sql_exact_match(wrong, row["answer"]) == 0.0
    assert execution_match(wrong, row["answer"], database) == 0.0


def test_geo_context_matches_the_database() -> None:
    conn = sqlite3.connect(DEMO / "geo.sqlite")
    columns = {
        (table, col[1])
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for col in conn.execute(f'PRAGMA table_info("{table}")')
    }
    context = _rows("geo_heldout.jsonl")[0]["context"]
    named = {
        (line.split()[2], part.split()[0])
        for line in context.splitlines()[1:]
        for part in line.split("(", 1)[1].rstrip(");").split(", ")
    }
    assert named == columns


def test_split_is_disjoint_and_covers_every_database() -> None:
    """The sql-eval data (the demo's before GeoQuery; demo.sqlite is examples/grpo.yaml's database)."""
    train, held = _rows("train.jsonl"), _rows("heldout.jsonl")
    assert (len(train), len(held)) == (65, 40)  # one held-out question is 2.5 points
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    dbs = {r["context"].splitlines()[0] for r in held}
    assert dbs == {f"-- SQLite database: {db}" for db in ("restaurants", "geography", "scholar", "yelp")}
    assert all(set(r) == {"question", "context", "answer"} for r in train + held)


@pytest.mark.parametrize(
    ("database", "train", "heldout"),
    [("geo.sqlite", "geo_train.jsonl", "geo_heldout.jsonl"), ("demo.sqlite", "train.jsonl", "heldout.jsonl")],
)
def test_every_gold_query_runs_and_every_held_out_one_returns_a_value(database: str, train: str, heldout: str) -> None:
    conn = sqlite3.connect(DEMO / database)
    for row in _rows(heldout):
        # an empty gold answer proves nothing, nor does one of only NULLs (a ratio over no rows:
        # a wrong query that also divides by nothing matched it)
        values = [v for r in conn.execute(row["answer"]).fetchall() for v in r]
        assert any(v is not None for v in values), row["question"]
    for row in _rows(train):
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
        "geo_train.jsonl",
        "geo_heldout.jsonl",
        "geo.sqlite",
        "text2sql-data",
        "5050bad",
        "CC-BY-4.0",
    ):
        assert name in readme
    for script in ("build_data.py", "build_geo_data.py", "build_tools_data.py"):
        assert Path(DEMO / script).is_file()
