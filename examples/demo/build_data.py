"""Rebuild the demo's data from its public sources (maintainers only; nothing runs this at demo/test time).

    pip download --no-deps defog-data==0.1.1 && unzip defog_data-0.1.1-py3-none-any.whl -d defog
    python examples/demo/build_data.py defog/defog_data sql_eval_questions_sqlite.csv

Sources (both Apache-2.0): the questions and gold SQLite queries of defog-ai/sql-eval
(`data/questions_gen_sqlite.csv` at b833324) and the Postgres dumps (DDL + rows) of the
PyPI package defog-data 0.1.1. Writes, next to this file: demo.sqlite (the databases' tables
and rows, for execution match), train.jsonl and heldout.jsonl (question, context = the
database's compact schema, answer = the first gold query that runs on demo.sqlite).

Held out: HELD_OUT questions, drawn (seeded) in proportion to each database's share, among the
questions whose gold query returns at least one value that is not NULL: a question whose gold
answer is empty, or only NULLs (a ratio over no rows), cannot tell a right query from the many
wrong ones that also return nothing, so it is only trained on. Everything else is training data.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sqlite3
import sys
from pathlib import Path

# Four databases with small schemas and no table name in common (one SQLite file holds them all).
DATABASES = ("restaurants", "geography", "scholar", "yelp")
HELD_OUT = 40
SEED = 10
HERE = Path(__file__).resolve().parent
TYPES = {
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "real": "REAL",
    "double precision": "REAL",
    "numeric": "REAL",
    "boolean": "INTEGER",
}


def tables(dump: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(table, [(column, sqlite type)]) from `CREATE TABLE public.x (...)` blocks."""
    out = []
    for name, body in re.findall(r"CREATE TABLE public\.(\w+) \((.*?)\n\);", dump, re.S):
        cols = []
        for line in body.strip().splitlines():
            col, pg_type = line.strip().rstrip(",").split(" ", 1)
            base = re.split(r" DEFAULT | NOT NULL|\(", pg_type)[0].strip()
            cols.append((col, TYPES.get(base, "TEXT")))
        out.append((name, cols))
    return out


def rows(dump: str) -> dict[str, list[list[str | None]]]:
    """COPY blocks: tab-separated, \\N is NULL, ended by a line `\\.` (a block may be empty)."""
    out: dict[str, list[list[str | None]]] = {}
    for name, body in re.findall(r"COPY public\.(\w+) \(.*?\) FROM stdin;\n(.*?)^\\\.$", dump, re.S | re.M):
        out[name] = [[None if v == r"\N" else v for v in line.split("\t")] for line in body.splitlines()]
    return out


def schema_text(db: str, defs: list[tuple[str, list[tuple[str, str]]]]) -> str:
    lines = [f"-- SQLite database: {db}"]
    lines += [f"CREATE TABLE {t} ({', '.join(f'{c} {ty.lower()}' for c, ty in cols)});" for t, cols in defs]
    return "\n".join(lines)


def main(defog_dir: Path, questions_csv: Path) -> None:
    database = HERE / "demo.sqlite"
    database.unlink(missing_ok=True)
    conn = sqlite3.connect(database)
    schemas = {}
    for db in DATABASES:
        dump = (defog_dir / db / f"{db}.sql").read_text(encoding="utf-8")
        defs = tables(dump)
        schemas[db] = schema_text(db, defs)
        data = rows(dump)
        for table, cols in defs:
            conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {ty}' for c, ty in cols)})")
            marks = ", ".join("?" * len(cols))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", data.get(table, []))
    conn.commit()
    conn.execute("VACUUM")

    answered: dict[str, list[dict[str, str]]] = {db: [] for db in DATABASES}  # gold returns rows
    empty: list[dict[str, str]] = []
    with questions_csv.open(encoding="utf-8", newline="") as fh:
        for q in csv.DictReader(fh):
            if q["db_name"] not in answered:
                continue
            gold = next((s.strip() + ";" for s in q["query"].split(";") if s.strip() and _runs(conn, s)), None)
            if gold is None:
                print(f"skipped (no gold query runs on SQLite): {q['question']}", file=sys.stderr)
                continue
            context = schemas[q["db_name"]] + (f"\n-- {q['instructions']}" if q["instructions"].strip() else "")
            row = {"question": q["question"], "context": context, "answer": gold}
            (answered[q["db_name"]] if _tells(conn.execute(gold).fetchall()) else empty).append(row)
    rng = random.Random(SEED)
    total = sum(len(v) for v in answered.values())
    quota = {db: round(HELD_OUT * len(v) / total) for db, v in answered.items()}
    quota[max(quota, key=lambda db: len(answered[db]))] += HELD_OUT - sum(quota.values())
    train, held = list(empty), []
    for db in DATABASES:
        items = answered[db]
        rng.shuffle(items)
        held += items[: quota[db]]
        train += items[quota[db] :]
    rng.shuffle(train)
    for name, items in (("train.jsonl", train), ("heldout.jsonl", held)):
        (HERE / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    print(
        f"{len(train)} train ({len(empty)} with an empty or all-NULL gold answer), {len(held)} held out {quota}, ",
        end="",
    )
    print(f"{database.stat().st_size} bytes of SQLite")


def _tells(result: list[tuple]) -> bool:
    """A gold result that can tell right from wrong: some value in it is not NULL."""
    return any(value is not None for row in result for value in row)


def _runs(conn: sqlite3.Connection, sql: str) -> bool:
    try:
        conn.execute(sql).fetchall()
        return True
    except sqlite3.Error:
        return False


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
