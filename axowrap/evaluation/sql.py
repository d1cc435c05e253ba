"""SQL answers: the one extraction rule, text normalization, and execution on a SQLite file.

Every model's answer goes through the same rule before it is scored (`extract_sql`):

1. if the answer has a fenced code block (```` ```sql ... ``` ````, closed or cut off by the
   token limit), keep only the content of the first one;
2. keep the first statement: the text up to the first `;` outside quotes and comments.

An answer "needed extraction" when what is scored is not the whole answer (a fence or text
around the statement was dropped); the eval reports that share as `sql_extracted`.

Execution (`execution_scores`), on a read-only connection with a time limit per query:

- `exec_valid`: the extracted SQL is one statement that runs and returns a result set (an empty
  answer, `;`, a comment alone, or a statement that returns no result set is not valid);
- `exec_match`: its result equals the gold query's, compared as the sql-eval benchmark does
  (defog-ai/sql-eval `eval/eval.py`): duplicate rows dropped; column names ignored, each gold
  column matched by a distinct predicted column holding the same values (extra predicted
  columns allowed); rows compared as a set unless the question asks for an order
  (`order`, `sort`, `arrange` and their -ed forms), then as a sequence; numbers compared to 6
  significant digits (`2` equals `2.0`).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SQL_TOKEN = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\w+|<=|>=|<>|!=|\|\||\S", re.S)
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|\Z)", re.S)
_ORDER_WORDS = re.compile(r"\b(order|ordered|sort|sorted|arrange|arranged)\b", re.I)
QUERY_SECONDS = 5.0  # a generated query gets this long (a cross join of big tables could run for hours)
_MAX_PAIRINGS = 5000  # column pairings tried per comparison


def _is_comment(token: str) -> bool:
    return token.startswith("--") or token.startswith("/*")


def normalize_sql(sql: str) -> str:
    """Canonical SQL text: keywords and identifiers lower-cased, whitespace, comments and the
    trailing semicolon dropped, string literals kept as written (`'Bob'` differs from `'bob'`)."""
    tokens = [t for t in _SQL_TOKEN.findall(sql.strip()) if not _is_comment(t)]
    while tokens and tokens[-1] == ";":
        tokens.pop()
    return " ".join(t if t.startswith("'") else t.lower() for t in tokens)


def first_statement(text: str) -> str:
    """The text up to and including its first `;` outside quotes and comments, trimmed."""
    for match in _SQL_TOKEN.finditer(text):
        if match.group() == ";":
            return text[: match.end()].strip()
    return text.strip()


def extract_sql(answer: str) -> str:
    """The SQL scored for a generated answer (the module docstring states the rule)."""
    fence = _FENCE.search(answer)
    return first_statement(fence.group(1) if fence else answer)


def needed_extraction(answer: str) -> bool:
    """Whether the rule dropped anything but surrounding whitespace from the answer."""
    return extract_sql(answer) != answer.strip()


def sql_exact_match(prediction: str, target: str) -> float:
    return float(normalize_sql(extract_sql(prediction)) == normalize_sql(target))


def asks_for_order(question: str) -> bool:
    return bool(_ORDER_WORDS.search(question))


def _run(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]] | None:
    """The rows of one statement that returns a result set; None when it fails, times out,
    is empty or a comment, or returns no result set."""
    if not any(not _is_comment(t) and t != ";" for t in _SQL_TOKEN.findall(sql)):
        return None
    deadline = time.monotonic() + QUERY_SECONDS
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description is not None else None
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):
        return None  # sqlite3.Warning: more than one statement; ValueError: a NUL character
    finally:
        conn.set_progress_handler(None, 0)


def _canon(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return float(f"{float(value):.6g}")
    return value


def _key(value: Any) -> tuple[int, str]:
    """A total order over mixed SQLite values (NULL, numbers, text, blobs)."""
    if value is None:
        return (0, "")
    if isinstance(value, float):
        return (1, f"{value:+025.6e}") if value == value else (1, "nan")
    return (2, repr(value))


def _distinct(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    seen: dict[tuple[Any, ...], None] = {}
    for row in rows:
        seen.setdefault(tuple(_canon(v) for v in row), None)
    return list(seen)


def same_result(gold: list[tuple[Any, ...]], got: list[tuple[Any, ...]], *, ordered: bool) -> bool:
    """sql-eval's comparison (module docstring): gold columns found among the predicted ones."""
    gold, got = _distinct(gold), _distinct(got)
    if len(gold) != len(got):
        return False
    if not gold:
        return True
    width_gold, width_got = len(gold[0]), len(got[0])
    column = lambda rows, j: sorted((r[j] for r in rows), key=_key)  # noqa: E731
    candidates = [[k for k in range(width_got) if column(got, k) == column(gold, j)] for j in range(width_gold)]
    want = gold if ordered else sorted(gold, key=lambda r: [_key(v) for v in r])
    for pairing in itertools.islice(itertools.product(*candidates), _MAX_PAIRINGS):
        if len(set(pairing)) < len(pairing):
            continue
        picked = [tuple(r[k] for k in pairing) for r in got]
        if not ordered:
            picked.sort(key=lambda r: [_key(v) for v in r])
        if picked == want:
            return True
    return False


def execution_scores(prediction: str, target: str, database: str | Path, question: str = "") -> dict[str, float]:
    """exec_valid and exec_match of a generated answer (module docstring); exec_match is 0.0
    when the gold query itself fails."""
    uri = f"file:{Path(database).resolve()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        got = _run(conn, extract_sql(prediction))
        gold = _run(conn, target) if got is not None else None
    finally:
        conn.close()
    if got is None or gold is None:
        return {"exec_match": 0.0, "exec_valid": float(got is not None)}
    return {"exec_match": float(same_result(gold, got, ordered=asks_for_order(question))), "exec_valid": 1.0}


def execution_match(prediction: str, target: str, database: str | Path, question: str = "") -> float:
    return execution_scores(prediction, target, database, question)["exec_match"]


def sql_scores(prediction: str, target: str, *, database: str | None, question: str) -> dict[str, float]:
    """Every per-row value the sql metric family reports."""
    out = {
        "sql_exact_match": sql_exact_match(prediction, target),
        "sql_extracted": float(needed_extraction(prediction)),
    }
    if database:
        out |= execution_scores(prediction, target, database, question)
    return out


def rows_of(database: str | Path, sql: str) -> Sequence[tuple[Any, ...]] | None:
    """The rows a query returns on the database (read-only), or None (for reports)."""
    conn = sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True)
    try:
        return _run(conn, extract_sql(sql))
    finally:
        conn.close()
