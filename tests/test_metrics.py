"""Domain metrics, the judge's score parsing and the gate: pure Python, real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from axowrap.evaluation import sql
from axowrap.evaluation.gate import check_gate
from axowrap.evaluation.intervals import paired_bootstrap, wilson
from axowrap.evaluation.judge import parse_score
from axowrap.evaluation.metrics import (
    execution_match,
    execution_scores,
    extract_sql,
    macro_f1,
    normalize_sql,
    rouge_l,
    score_generation,
    score_preference,
    sql_exact_match,
    tool_call_match,
)
from axowrap.evaluation.sql import needed_extraction


def test_sql_normalizer_ignores_case_whitespace_and_semicolon() -> None:
    assert normalize_sql("select * FROM t;") == normalize_sql("SELECT * from t")
    assert sql_exact_match("select *   FROM t;\nThat is all.", "SELECT * from t") == 1.0


def test_sql_normalizer_tells_different_queries_apart() -> None:
    assert sql_exact_match("SELECT a FROM t", "SELECT * FROM t") == 0.0
    assert sql_exact_match("SELECT * FROM t WHERE n = 'Bob'", "SELECT * FROM t WHERE n = 'bob'") == 0.0
    assert sql_exact_match("SELECT * FROM t2", "SELECT * FROM t") == 0.0


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE item (id INTEGER, name TEXT, price REAL)")
        conn.executemany("INSERT INTO item VALUES (?, ?, ?)", [(1, "pen", 1.5), (2, "ink", 4.0), (3, "pad", 2.5)])
    return path


def test_execution_match_runs_both_queries_on_the_database(database: Path) -> None:
    gold = "SELECT name FROM item WHERE price > 2"
    # different text, same rows
    assert execution_match("SELECT name FROM item WHERE price >= 2.5;", gold, database) == 1.0
    assert sql_exact_match("SELECT name FROM item WHERE price >= 2.5;", gold) == 0.0
    assert execution_match("SELECT name FROM item WHERE price > 3", gold, database) == 0.0
    assert execution_match("SELECT nme FROM item", gold, database) == 0.0  # an error is a miss
    assert execution_match("DELETE FROM item", gold, database) == 0.0  # read-only
    assert execution_match(gold, gold, database) == 1.0


def test_row_order_counts_only_when_the_question_asks_for_one(database: Path) -> None:
    gold = "SELECT name FROM item ORDER BY price DESC"
    asks = "List the items, ordered from the dearest to the cheapest."
    assert execution_match("SELECT name FROM item ORDER BY price ASC", gold, database, asks) == 0.0
    assert execution_match("SELECT name FROM item ORDER BY price DESC", gold, database, asks) == 1.0
    # no order asked for (sql-eval's rule): the same rows in any order match
    assert execution_match("SELECT name FROM item ORDER BY price ASC", gold, database, "Which items?") == 1.0
    assert score_generation("sql_exact_match", gold, gold, database=str(database), question=asks) == {
        "sql_exact_match": 1.0,
        "sql_extracted": 0.0,
        "exec_match": 1.0,
        "exec_valid": 1.0,
    }


def test_execution_match_ignores_column_names_duplicates_and_extra_columns(database: Path) -> None:
    gold = "SELECT name AS item_name, price FROM item WHERE price > 2"
    assert execution_match("SELECT price AS p, name AS n FROM item WHERE price > 2", gold, database) == 1.0
    assert execution_match("SELECT id, name, price FROM item WHERE price > 2", gold, database) == 1.0  # extra column
    assert execution_match("SELECT name FROM item WHERE price > 2", gold, database) == 0.0  # a gold column missing
    assert execution_match("SELECT DISTINCT 1 FROM item", "SELECT 1 FROM item", database) == 1.0  # duplicates dropped
    assert execution_match("SELECT 2.0", "SELECT 2", database) == 1.0  # numbers by value
    assert execution_match("SELECT 1.0 / 3", "SELECT 0.333333333", database) == 1.0  # to 6 significant digits
    assert execution_match("SELECT 0.33", "SELECT 1.0 / 3", database) == 0.0


@pytest.mark.parametrize(
    "answer",
    ["", "   \n", ";", "-- nothing", "/* nothing */;", "```sql\n```", "PRAGMA user_version = 3", "SELECT FROM"],
)
def test_an_answer_without_a_result_set_is_not_valid(database: Path, answer: str) -> None:
    assert execution_scores(answer, "SELECT name FROM item", database) == {"exec_match": 0.0, "exec_valid": 0.0}


def test_one_extraction_rule_fence_first_then_the_first_statement(database: Path) -> None:
    fenced = "Here is the query:\n```sql\nSELECT name FROM item\n```\nIt lists the names."
    assert extract_sql(fenced) == "SELECT name FROM item"
    assert extract_sql("```\nSELECT 1; SELECT 2;\n```") == "SELECT 1;"  # first statement inside the fence
    assert (
        extract_sql("```sql\nSELECT name FROM item WHERE price >") == "SELECT name FROM item WHERE price >"
    )  # cut off
    assert extract_sql("SELECT ';' AS s; DROP TABLE item;") == "SELECT ';' AS s;"  # ; inside quotes kept
    assert extract_sql("SELECT 1 -- a ; in a comment\n; more") == "SELECT 1 -- a ; in a comment\n;"
    assert extract_sql("  SELECT 1;  ") == "SELECT 1;"
    assert (
        not needed_extraction("  SELECT 1;  ") and needed_extraction("SELECT 1; and then") and needed_extraction(fenced)
    )
    gold = "SELECT name FROM item"
    assert execution_scores(fenced, gold, database) == {"exec_match": 1.0, "exec_valid": 1.0}
    assert sql_exact_match(fenced, gold) == 1.0
    assert score_generation("sql_exact_match", fenced, gold)["sql_extracted"] == 1.0


def test_exec_valid_counts_queries_that_run_even_when_the_rows_differ(database: Path) -> None:
    gold = "SELECT name FROM item WHERE price > 2"
    assert execution_scores("SELECT name FROM item; -- more", gold, database) == {"exec_match": 0.0, "exec_valid": 1.0}
    assert execution_scores("SELECT nme FROM item", gold, database) == {"exec_match": 0.0, "exec_valid": 0.0}


def test_a_runaway_query_is_stopped_and_scored_invalid(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "QUERY_SECONDS", 0.2)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    assert execution_scores(endless, "SELECT 1", database) == {"exec_match": 0.0, "exec_valid": 0.0}


def test_tool_call_match_compares_name_and_arguments_as_json() -> None:
    gold = '{"name": "search_recipes", "arguments": {"ingredients": ["chicken", "rice"], "max": 3}}'
    assert (
        tool_call_match(
            'Sure. {"arguments": {"max": 3, "ingredients": ["chicken", "rice"]}, "name": "search_recipes"}', gold
        )
        == 1.0
    )
    assert (
        tool_call_match(
            '{"name": "search_recipes", "arguments": "{\\"max\\": 3, \\"ingredients\\": [\\"chicken\\", \\"rice\\"]}"}',
            gold,
        )
        == 1.0
    )
    assert tool_call_match('{"name": "search_recipes", "arguments": {"ingredients": ["rice"], "max": 3}}', gold) == 0.0
    assert (
        tool_call_match('{"name": "get_weather", "arguments": {"ingredients": ["chicken", "rice"], "max": 3}}', gold)
        == 0.0
    )
    assert tool_call_match("no call here", gold) == 0.0


def test_accuracy_and_macro_f1() -> None:
    assert score_generation("accuracy", " Sports.", "sports")["accuracy"] == 1.0
    pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b")]
    # F1(a) = 2*2/(4+1+0) = 0.8; F1(b) = 2*1/(2+0+1) = 2/3
    assert macro_f1(pairs) == pytest.approx((0.8 + 2 / 3) / 2)
    assert macro_f1([("x", "a"), ("y", "b")]) == 0.0


def test_rouge_l() -> None:
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    # LCS "the cat the mat" = 4 of 6 and 4 of 5 words
    assert rouge_l("the cat was on the mat", "the cat the mat sat") == pytest.approx(
        2 * (4 / 6) * (4 / 5) / (4 / 6 + 4 / 5)
    )
    assert rouge_l("dogs", "the cat") == 0.0


def test_preference_margin() -> None:
    assert score_preference([-3.0, -5.5]) == {"preference_accuracy": 1.0, "preference_margin": 2.5}
    assert score_preference([-6.0, -5.0])["preference_accuracy"] == 0.0


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Score: 7\nThe answer is mostly right.", 0.7),
        ('{"score": 9, "reason": "good"}', 0.9),
        ("I would give it **4**.", 0.4),
        ("8/10 - solid", 0.8),
        ("Rating: 3 out of 5", 0.6),
        ("[[6]]", 0.6),
        ("5", 0.5),
        ("The answer mentions 2 tables but is wrong. Score: 2", 0.2),
        ("no idea", None),
        ("Score: 42", None),
    ],
)
def test_judge_score_parsing(reply: str, score: float | None) -> None:
    assert parse_score(reply, 10) == (pytest.approx(score) if score is not None else None)


def test_gate_names_each_unmet_bar() -> None:
    metrics = {"sql_exact_match": {"base": 0.1, "tuned": 0.4}, "word_perplexity": {"base": 30.0, "tuned": 12.0}}
    assert check_gate({"sql_exact_match": 0.3}, metrics) == []
    assert check_gate({"sql_exact_match": 0.6}, metrics) == ["sql_exact_match = 0.4, below the required 0.6"]
    assert check_gate({"word_perplexity": 10}, metrics) == ["word_perplexity = 12, above the allowed maximum 10"]
    assert check_gate({"exec_match": 0.5}, metrics) == [
        "exec_match: not measured (measured: sql_exact_match, word_perplexity)"
    ]


def test_gate_failures_reads_results_json(tmp_path: Path) -> None:
    from axowrap.evaluation.gate import gate_failures

    path = tmp_path / "results.json"
    assert gate_failures(path) is None
    path.write_text('{"gate": {"passed": false, "failures": ["exact_match = 0.1, below the required 0.5"]}}')
    assert gate_failures(path) == ["exact_match = 0.1, below the required 0.5"]
    path.write_text('{"gate": {"passed": true, "failures": []}}')
    assert gate_failures(path) == []


def test_require_of_an_unreported_metric_is_a_spec_error(workdir: Path) -> None:
    from axowrap.errors import ValidationFailed
    from axowrap.validate import load_spec

    spec = Path("examples/sql.yaml")
    spec.write_text(
        spec.read_text().replace(
            "eval: {holdout: 0.05}", "eval: {holdout: 0.05, require: {exec_match: 0.5, sql_exact_match: 0.2}}"
        )
    )
    with pytest.raises(ValidationFailed) as err:
        load_spec(spec)
    (problem,) = [p for p in err.value.problems if p.path[:2] == ("eval", "require")]
    assert problem.path == ("eval", "require", "exec_match") and "does not report 'exec_match'" in problem.message
    assert "sql_exact_match" in (problem.hint or "")


def test_wilson_interval_matches_the_textbook_values() -> None:
    lo, hi = wilson(0, 40)
    assert lo == 0.0 and hi == pytest.approx(0.0876, abs=1e-4)
    lo, hi = wilson(20, 40)
    assert (lo, hi) == (pytest.approx(0.3520, abs=1e-4), pytest.approx(0.6480, abs=1e-4))
    assert wilson(40, 40)[1] == 1.0


def test_paired_bootstrap_interval_of_the_gain() -> None:
    assert paired_bootstrap([0.0] * 40, [1.0] * 40) == (1.0, 1.0)
    assert paired_bootstrap([1.0, 0.0] * 20, [1.0, 0.0] * 20) == (0.0, 0.0)
    base, tuned = [0.0] * 40, [1.0] * 10 + [0.0] * 30  # +0.25 measured
    lo, hi = paired_bootstrap(base, tuned)
    assert 0.1 < lo < 0.25 < hi <= 0.4 and paired_bootstrap(base, tuned) == (lo, hi)  # seeded
    with pytest.raises(ValueError, match="paired scores needed: 2 base vs 1 tuned"):
        paired_bootstrap([0.0, 1.0], [1.0])
