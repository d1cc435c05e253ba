"""The demo's spec and data (examples/demo/): valid, honest split, gold SQL that really runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import EXAMPLES
from helpers import run_cli

from axowrap.evaluation.metrics import execution_match, sql_exact_match

DEMO = EXAMPLES / "demo"


def _rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DEMO / name).read_text(encoding="utf-8").splitlines()]


def test_demo_spec_validates() -> None:
    res = run_cli("validate", str(DEMO / "sql-demo.yaml"))
    assert res.code == 0, res.out + res.err
    assert "ok" in res.out and "target cpu" in res.out


def test_split_is_disjoint_and_covers_every_database() -> None:
    train, held = _rows("train.jsonl"), _rows("heldout.jsonl")
    assert (len(train), len(held)) == (60, 15)
    assert not {r["question"] for r in train} & {r["question"] for r in held}
    dbs = {r["context"].splitlines()[0] for r in held}
    assert dbs == {f"-- SQLite database: {db}" for db in ("restaurants", "geography", "scholar")}
    assert all(set(r) == {"question", "context", "answer"} for r in train + held)


def test_every_gold_query_runs_on_the_bundled_database() -> None:
    conn = sqlite3.connect(DEMO / "demo.sqlite")
    answers = [r["answer"] for r in _rows("train.jsonl") + _rows("heldout.jsonl")]
    empty = 0
    for sql in answers:
        empty += not conn.execute(sql).fetchall()  # raises if a query does not run
    assert empty < len(answers) // 2  # the tables hold rows: results mostly non-empty


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
    for name in ("train.jsonl", "heldout.jsonl", "demo.sqlite", "Apache-2.0", "defog-data"):
        assert name in readme
    assert Path(DEMO / "build_data.py").is_file()
