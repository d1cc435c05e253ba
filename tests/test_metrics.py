"""Domain metrics, the judge's score parsing and the gate: pure Python, real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from axowrap.evaluation.gate import check_gate
from axowrap.evaluation.judge import parse_score
from axowrap.evaluation.metrics import (
    execution_match,
    execution_scores,
    macro_f1,
    normalize_sql,
    rouge_l,
    score_generation,
    score_preference,
    sql_exact_match,
    tool_call_match,
)


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


def test_execution_match_respects_order_by(database: Path) -> None:
    gold = "SELECT name FROM item ORDER BY price DESC"
    assert execution_match("SELECT name FROM item ORDER BY price ASC", gold, database) == 0.0
    assert execution_match("SELECT name FROM item ORDER BY price DESC", gold, database) == 1.0
    assert score_generation("sql_exact_match", gold, gold, database=str(database)) == {
        "sql_exact_match": 1.0,
        "exec_match": 1.0,
        "exec_valid": 1.0,
    }


def test_exec_valid_counts_queries_that_run_even_when_the_rows_differ(database: Path) -> None:
    gold = "SELECT name FROM item ORDER BY price DESC"
    assert execution_scores("SELECT name FROM item ORDER BY price ASC; -- more", gold, database) == {
        "exec_match": 0.0,
        "exec_valid": 1.0,
    }
    assert execution_scores("SELECT nme FROM item", gold, database) == {
        "exec_match": 0.0,
        "exec_valid": 0.0,
    }  # no such column
    assert execution_scores("```sql\nSELECT name FROM item\n```", gold, database) == {
        "exec_match": 0.0,
        "exec_valid": 0.0,
    }


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
