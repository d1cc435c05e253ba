"""Rebuild the SQL demo's data from GeoQuery (maintainers only; nothing runs this at demo/test time).

    git clone https://github.com/jkkummerfeld/text2sql-data && git -C text2sql-data checkout 5050bad
    python examples/demo/build_geo_data.py text2sql-data [OUT_DIR]   # OUT_DIR: this folder by default

Source (CC-BY-4.0): jkkummerfeld/text2sql-data at 5050bad (Finegan-Dollak et al. 2018,
"Improving Text-to-SQL Evaluation Methodology"): `data/geography.json` (GeoQuery: 246 SQL
templates, 877 questions, each question with its `question-split` and the values of its
variables) and `data/geography-db.added-in-2020.sqlite` (the GeoQuery database of US
geography, copied unchanged to geo.sqlite). Writes, next to this file: geo.sqlite,
geo_train.jsonl and geo_heldout.jsonl (question, context = the database's compact schema, answer =
the template's first SQL query, the one the dataset's authors use, with the question's values
substituted as single-quoted SQLite strings, then written compactly: lower case outside string
literals, the dataset's aliases `CITYalias0` shortened to `city0`, no space inside parentheses;
the builder checks that the compact query returns the same rows as the original).

The split is the dataset's question split (the standard one of Finegan-Dollak et al.): the
same query templates appear in train and test with other phrasings and values, as when a user
fine-tunes a model for their own database. Held out: HELD_OUT questions drawn (seeded) from
`test`, among those whose gold query returns at least one value that is not NULL (an empty
gold answer cannot tell a right query from the many wrong ones that also return nothing).
Training: every `train` question whose gold query runs, minus any whose text is also a
held-out question. `dev` questions are not used.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
import sys
from pathlib import Path

HELD_OUT = 40
SEED = 21
HERE = Path(__file__).resolve().parent
DB_NAME = "geography"
TYPES = {"int": "integer", "double": "real", "varchar": "text", "text": "text"}


def schema_text(conn: sqlite3.Connection) -> str:
    """`-- SQLite database: geography` then one `CREATE TABLE t (col type, ...);` line a table."""
    lines = [f"-- SQLite database: {DB_NAME}"]
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        cols = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        defs = ", ".join(f"{c[1]} {TYPES.get(re.split(r'[ (]', c[2].lower())[0], 'text')}" for c in cols)
        lines.append(f"CREATE TABLE {table} ({defs});")
    return "\n".join(lines)


def fill(text: str, values: dict[str, str], quote: bool) -> str:
    """Put each variable's value in: in SQL the double-quoted placeholder becomes a single-quoted
    string (SQLite reads a double-quoted name as a column if one matches); in a question, the word."""
    for name in sorted(values, key=len, reverse=True):
        new = "'" + values[name].replace("'", "''") + "'" if quote else values[name]
        if quote:
            text = text.replace(f'"{name}"', new)
        text = re.sub(rf"\b{re.escape(name)}\b", lambda _m, new=new: new, text)
    return text


_LITERAL = re.compile(r"('(?:[^']|'')*')")


def compact(sql: str) -> str:
    """`SELECT CITYalias0.CITY_NAME FROM CITY AS CITYalias0 WHERE ... ( SELECT MAX( ... ) ) ;` ->
    `select city0.city_name from city as city0 where ... (select max(...));` (literals kept)."""
    out = []
    for part in _LITERAL.split(" ".join(sql.split())):
        if not part.startswith("'"):
            part = re.sub(r"\b([a-z_]+)alias(\d+)\b", r"\1\2", part.lower())
            for spaced, tight in (("( ", "("), (" )", ")"), (" ,", ","), (" ;", ";")):
                part = part.replace(spaced, tight)
        out.append(part)
    return "".join(out)


def main(repo: Path, out: Path = HERE) -> None:
    database = out / "geo.sqlite"
    database.unlink(missing_ok=True)
    shutil.copyfile(repo / "data" / "geography-db.added-in-2020.sqlite", database)
    conn = sqlite3.connect(database)
    context = schema_text(conn)
    templates = json.loads((repo / "data" / "geography.json").read_text(encoding="utf-8"))

    rows: dict[str, list[dict[str, str]]] = {"train": [], "test": []}
    told: list[bool] = []  # per test row: its gold answer holds a value that is not NULL
    skipped = 0
    for template in templates:
        for sentence in template["sentences"]:
            split = sentence["question-split"]
            if split not in rows:
                continue
            values = {v["name"]: v["example"] for v in template["variables"]} | sentence["variables"]
            original = fill(template["sql"][0], values, quote=True)
            try:
                result = conn.execute(original).fetchall()
            except sqlite3.Error as exc:
                print(f"skipped ({exc}): {original}", file=sys.stderr)
                skipped += 1
                continue
            answer = compact(original)
            assert conn.execute(answer).fetchall() == result, (original, answer)
            row = {"question": fill(sentence["text"], values, quote=False), "context": context, "answer": answer}
            rows[split].append(row)
            if split == "test":
                told.append(any(v is not None for r in result for v in r))

    rng = random.Random(SEED)
    candidates = [r for r, ok in zip(rows["test"], told, strict=True) if ok]
    held = rng.sample(candidates, HELD_OUT)
    asked = {r["question"] for r in held}
    train = [r for r in rows["train"] if r["question"] not in asked]
    rng.shuffle(train)
    for name, items in (("geo_train.jsonl", train), ("geo_heldout.jsonl", held)):
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8")
    print(
        f"{len(train)} train ({len(rows['train']) - len(train)} dropped: same text as a held-out question), "
        f"{len(held)} held out of {len(candidates)} test questions with a value, {skipped} skipped, "
        f"{database.stat().st_size} bytes of SQLite"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else HERE)
