"""Domain metrics, one function per idea, pure Python (lm-eval's process_results calls them).

`score_generation(metric, doc, prediction)` scores one generated answer against the row's
target and returns every per-row value the metric family reports; aggregations are `mean`
except macro-F1, which needs the whole corpus (`macro_f1`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# What each spec `eval.metric` reports (names in results.json), and which way is better.
FAMILIES: dict[str, tuple[str, ...]] = {
    "exact_match": ("exact_match",),
    "sql_exact_match": ("sql_exact_match",),  # + exec_match, exec_valid when a database is named
    "tool_call_match": ("tool_call_match",),
    "accuracy": ("accuracy", "macro_f1"),
    "rouge_l": ("rouge_l",),
    "preference_margin": ("preference_accuracy", "preference_margin"),
    "perplexity": ("word_perplexity",),
}


def reported(ev: dict[str, Any]) -> tuple[str, ...]:
    """The domain metrics an `eval` section's metric reports (execution ones when a database is named)."""
    metric = ev["metric"]
    names = FAMILIES.get(metric, (metric,))
    if metric == "sql_exact_match" and ev.get("database"):
        names = (*names, "exec_match", "exec_valid")
    return names


LOWER_IS_BETTER = frozenset({"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"})


def lower_is_better(name: str) -> bool:
    """For a metric name, or a standard task's `task/metric`."""
    return name.rsplit("/", 1)[-1] in LOWER_IS_BETTER


_SQL_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\w+|<=|>=|<>|!=|\|\||\S")


def normalize_sql(sql: str) -> str:
    """Canonical SQL text: keywords and identifiers lower-cased, whitespace and the trailing
    semicolon dropped, string literals kept as written (`'Bob'` differs from `'bob'`)."""
    tokens = _SQL_TOKEN.findall(sql.strip().rstrip(";").strip())
    return " ".join(t if t.startswith("'") else t.lower() for t in tokens)


def sql_exact_match(prediction: str, target: str) -> float:
    return float(normalize_sql(first_statement(prediction)) == normalize_sql(target))


def first_statement(text: str) -> str:
    """The generated SQL up to its first `;` outside a string (models keep talking after it)."""
    for match in _SQL_TOKEN.finditer(text):
        if match.group() == ";":
            return text[: match.end()]
    return text.strip()


def _run_query(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]] | None:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return None


def execution_scores(prediction: str, target: str, database: str | Path) -> dict[str, float]:
    """Run the predicted and the gold query on the SQLite file (read-only):

    exec_valid  1.0 when the predicted query runs at all (valid SQL over the real schema);
    exec_match  1.0 when it returns the same rows as the gold query (a multiset, or a list
                when the gold query has ORDER BY); 0.0 when the gold query itself fails."""
    uri = f"file:{Path(database).resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        gold = _run_query(conn, target)
        got = _run_query(conn, first_statement(prediction))
    if got is None or gold is None:
        return {"exec_match": 0.0, "exec_valid": float(got is not None)}
    if "order by" in normalize_sql(target):
        same = got == gold
    else:
        same = sorted(map(repr, got)) == sorted(map(repr, gold))
    return {"exec_match": float(same), "exec_valid": 1.0}


def execution_match(prediction: str, target: str, database: str | Path) -> float:
    return execution_scores(prediction, target, database)["exec_match"]


def exact_match(prediction: str, target: str) -> float:
    return float(prediction.strip() == target.strip())


def _json_objects(text: str) -> Iterable[Any]:
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                yield decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue


def parse_tool_call(text: str) -> tuple[str, Any] | None:
    """(name, arguments) of the first JSON object in `text` that names a function."""
    for obj in _json_objects(text):
        if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
            obj = obj["function"]
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            args = obj.get("arguments", obj.get("parameters", {}))
            if isinstance(args, str):  # OpenAI style: arguments as a JSON string
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    pass
            return obj["name"], args
    return None


def tool_call_match(prediction: str, target: str) -> float:
    """1.0 when the tool name and the arguments (as JSON values, key order ignored) match."""
    gold = parse_tool_call(target)
    if gold is None:
        return exact_match(prediction, target)
    return float(parse_tool_call(prediction) == gold)


def normalize_label(text: str) -> str:
    return " ".join(text.strip().lower().split()).strip(".")


def accuracy(prediction: str, target: str) -> float:
    return float(normalize_label(prediction) == normalize_label(target))


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the gold labels, from (prediction, gold) pairs."""
    pairs = [(normalize_label(p), normalize_label(g)) for p, g in pairs]
    labels = sorted({g for _, g in pairs})
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(p == label and g == label for p, g in pairs)
        fp = sum(p == label and g != label for p, g in pairs)
        fn = sum(p != label and g == label for p, g in pairs)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def rouge_l(prediction: str, target: str) -> float:
    """ROUGE-L F-measure on lower-cased word tokens (longest common subsequence)."""
    a, b = prediction.lower().split(), target.lower().split()
    if not a or not b:
        return float(a == b)
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def score_generation(metric: str, prediction: str, target: str, *, database: str | None = None) -> dict[str, Any]:
    """Every per-row value `metric`'s family reports for one generated answer."""
    if metric == "sql_exact_match":
        out: dict[str, Any] = {"sql_exact_match": sql_exact_match(prediction, target)}
        if database:
            out |= execution_scores(prediction, target, database)
        return out
    if metric == "tool_call_match":
        return {"tool_call_match": tool_call_match(prediction, target)}
    if metric == "accuracy":
        return {"accuracy": accuracy(prediction, target), "macro_f1": (prediction, target)}
    if metric == "rouge_l":
        return {"rouge_l": rouge_l(prediction, target)}
    return {"exact_match": exact_match(prediction, target)}


def score_preference(loglikelihoods: Sequence[float]) -> dict[str, float]:
    """From the (chosen, rejected) log-likelihoods: is chosen preferred, and by how much."""
    chosen, rejected = loglikelihoods[0], loglikelihoods[1]
    return {"preference_accuracy": float(chosen > rejected), "preference_margin": chosen - rejected}
