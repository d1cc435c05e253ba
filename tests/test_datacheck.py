"""The dataset doctor: readers, structural checks per format, content checks, the CLI, and
the structural part running inside `axowrap validate`."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from axowrap.cli.data import check_source
from axowrap.data.check import check_file
from axowrap.data.formats import check_row, layout_for
from axowrap.data.readers import Unreadable, iter_rows

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "examples" / "data"
KTO = REPO / "tests" / "data" / "kto_sample.jsonl"


def rows_of(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, rows: list[Any], raw: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    for i, text in (raw or {}).items():
        lines[i] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def categories(report: Any) -> dict[str, int]:
    return {c: n for _, c, n in report.summary()}


# --- readers -------------------------------------------------------------------------------


def test_jsonl_reader_keeps_going_past_a_bad_line(tmp_path: Path) -> None:
    rows = rows_of("instruct.jsonl")[:5]
    path = write_jsonl(tmp_path / "a.jsonl", rows, {1: '{"instruction": "cut off'})
    got = list(iter_rows(path))
    assert [w for w, _ in got] == [1, 2, 3, 4, 5]
    assert isinstance(got[1][1], Unreadable) and "invalid JSON" in got[1][1].reason
    assert got[1][1].excerpt == '{"instruction": "cut off'
    assert [r for _, r in got if not isinstance(r, Unreadable)] == [rows[0], *rows[2:]]


def test_json_array_reader_streams_with_line_numbers(tmp_path: Path) -> None:
    rows = rows_of("instruct.jsonl")[:30]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    got = list(iter_rows(path))
    assert [r for _, r in got] == rows
    text = path.read_text().splitlines()
    for line, row in got:  # each row starts on the line reported
        assert text[line - 1].strip() == "{"
        assert json.dumps(row["instruction"]) in text[line]


def test_json_array_reader_small_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import axowrap.data.readers as readers

    monkeypatch.setattr(readers, "CHUNK", 64)  # every element crosses a chunk boundary
    rows = rows_of("function-calling.jsonl")[:12]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    assert [r for _, r in iter_rows(path)] == rows


def test_json_array_reader_resumes_after_a_syntax_error(tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "output": f"answer {i}"} for i in range(4)]
    text = json.dumps(rows, indent=2).replace('"answer 1"', '"answer 1" oops', 1)
    path = tmp_path / "a.json"
    path.write_text(text, encoding="utf-8")
    got = list(iter_rows(path))
    bad = [(w, r) for w, r in got if isinstance(r, Unreadable)]
    assert len(bad) == 1 and bad[0][0] == 6
    assert [r for _, r in got if isinstance(r, dict)] == [rows[0], rows[2], rows[3]]


def test_csv_reader_rows_and_short_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "output"])
        w.writerow(["q1", "multi\nline answer"])
        w.writerow(["q2"])
        w.writerow(["q3", "a3"])
    got = list(iter_rows(path))
    assert got[0] == (2, {"instruction": "q1", "output": "multi\nline answer"})
    assert got[1][0] == 4 and isinstance(got[1][1], Unreadable) and "fewer values" in got[1][1].reason
    assert got[2] == (5, {"instruction": "q3", "output": "a3"})


def test_parquet_reader_counts_rows(tmp_path: Path) -> None:
    import pyarrow as pa  # installed with the train extra (datasets needs it)
    import pyarrow.parquet as pq

    rows = rows_of("instruct.jsonl")[:10]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet")
    report = check_file(tmp_path / "a.parquet", "alpaca", tokens=False)
    assert report.ok and report.datasets[0].rows == 10


# --- structural checks per format ----------------------------------------------------------


def test_alpaca_row_checks() -> None:
    layout = layout_for("alpaca")
    assert check_row(layout, {"instruction": "q", "input": "", "output": "a"}) == []
    issues = check_row(layout, {"instruction": "q", "respons": "a"})
    assert ("missing key", "missing key 'output' (the output)", "error") in issues
    assert any(c == "unrecognized key" and "'respons'" in m for c, m, _ in issues)
    assert check_row(layout, {"instruction": "q", "output": 3}) == [
        ("wrong type", "'output' must be a string, not a int", "error")
    ]
    assert check_row(layout, {"instruction": "q", "output": "  "}) == [
        ("empty content", "'output' (the output) is empty", "error")
    ]
    sql = layout_for("alpaca", {"instruction": "question", "input": "context", "output": "answer"})
    assert all(check_row(sql, r) == [] for r in rows_of("sql.jsonl"))


def test_sharegpt_tool_calls_and_role_mapping() -> None:
    rows = rows_of("function-calling.jsonl")
    spec_like = layout_for(
        "sharegpt",
        {"messages": "conversations", "role": "from", "content": "value"},
        {"system": ["system"], "user": ["human"], "assistant": ["gpt", "function_call"], "tool": ["observation"]},
    )
    assert all(check_row(spec_like, r) == [] for r in rows)
    # without the tool roles mapped, tool calls are unrecognized roles
    plain = layout_for("sharegpt", roles={"user": ["human"], "assistant": ["gpt"]})
    with_calls = next(r for r in rows if any(t["from"] == "function_call" for t in r["conversations"]))
    issues = check_row(plain, with_calls)
    assert {c for c, _, _ in issues} == {"unrecognized role"}
    assert any("'function_call'" in m and "roles:" in m for _, m, _ in issues)
    bad = json.loads(json.dumps(with_calls))
    call = next(t for t in bad["conversations"] if t["from"] == "function_call")
    call["value"] = "{not json"
    obs = bad["conversations"].index(call) + 1
    assert (
        "invalid JSON",
        f"conversations[{obs - 1}]: a tool call must be JSON (Expecting property name enclosed in double quotes)",
        "error",
    ) in check_row(spec_like, bad)
    orphan = {
        "conversations": [
            {"from": "human", "value": "hi"},
            {"from": "observation", "value": "{}"},
            {"from": "gpt", "value": "ok"},
        ]
    }
    assert [c for c, _, s in check_row(spec_like, orphan)] == ["bad tool call"]


def test_messages_checks_openai_tool_calls() -> None:
    layout = layout_for("messages")
    good = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": '{"c": 1}'}}],
            },
            {"role": "tool", "content": "sunny", "tool_call_id": "1"},
            {"role": "assistant", "content": "It is sunny."},
        ]
    }
    assert check_row(layout, good) == []
    bad = json.loads(json.dumps(good))
    bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = "{c"
    bad["messages"][3]["role"] = "asistant"
    got = {c for c, _, _ in check_row(layout, bad)}
    assert got == {"invalid JSON", "unrecognized role"}  # the tool-calling turn is an assistant turn
    assert check_row(layout, {"messages": "hi"}) == [
        ("wrong type", "'messages' must be a list of turns, not a string", "error")
    ]
    assert [c for c, _, _ in check_row(layout, {"messages": []})] == ["empty content"]


def test_preference_and_kto_rows() -> None:
    dpo = layout_for(
        "preference",
        {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "role": "role", "content": "content"},
    )
    assert all(check_row(dpo, r) == [] for r in rows_of("dpo.jsonl"))
    orpo = layout_for("preference", {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"})
    assert all(check_row(orpo, r) == [] for r in rows_of("orpo.jsonl"))
    row = rows_of("dpo.jsonl")[0]
    same = {**row, "rejected": row["chosen"]}
    assert [c for c, _, _ in check_row(dpo, same)] == ["chosen equals rejected"]
    assert ("missing key", "missing key 'rejected' (the rejected answer)", "error") in check_row(
        dpo, {k: v for k, v in row.items() if k != "rejected"}
    )
    kto = layout_for("kto")
    rows = [json.loads(line) for line in KTO.read_text().splitlines()]
    assert all(check_row(kto, r) == [] for r in rows)
    assert check_row(kto, {**rows[0], "label": "yes"}) == [
        ("wrong type", "'label' must be true or false, not 'yes'", "error")
    ]


def test_text_rows() -> None:
    layout = layout_for("text")
    assert check_row(layout, {"text": "hello"}) == []
    assert [c for c, _, _ in check_row(layout, {"txt": "hello"})] == ["missing key"]


# --- a whole file: categories, counts, content checks ----------------------------------------


def test_malformed_variant_reports_every_category(tmp_path: Path) -> None:
    rows = rows_of("function-calling.jsonl")[:12]
    rows[3]["conversations"][0]["from"] = "humna"
    rows[4]["conversations"] = [t for t in rows[4]["conversations"] if t["from"] not in ("gpt", "function_call")]
    rows[5]["conversations"][1]["value"] = ""
    rows[6]["tools"] = "[{bad"
    path = write_jsonl(tmp_path / "tools.jsonl", rows, {2: '{"conversations": [{"from": "human", "val', 7: "[1, 2]"})
    report = check_file(path, "sharegpt", tokens=False)
    assert categories(report) == {
        "invalid JSON": 2,
        "wrong type": 1,
        "unrecognized role": 1,
        "empty content": 1,
        "no assistant turn": 1,
        "role order": 1,  # row 4 is left with two user turns in a row
    }
    lines = {(f.category, f.where) for f in report.findings}
    assert lines == {
        ("invalid JSON", 3),
        ("invalid JSON", 7),
        ("wrong type", 8),
        ("unrecognized role", 4),
        ("empty content", 6),
        ("no assistant turn", 5),
        ("role order", 5),
    }
    assert report.datasets[0].rows == 11  # the unparsable line is not a row; the others all are
    assert not report.ok


def test_duplicates_and_short_targets(tmp_path: Path) -> None:
    rows = rows_of("instruct.jsonl")[:10]
    rows.append(dict(rows[0]))
    rows.append({**rows[1], "output": rows[1]["output"].upper() + "  !!"})
    rows.append({"instruction": "Is 2 prime?", "input": "", "output": "Y"})
    report = check_file(write_jsonl(tmp_path / "a.jsonl", rows), "alpaca", tokens=False)
    found = {(f.category, f.where, f.message) for f in report.findings}
    assert ("duplicate (exact)", 11, f"the same row as {tmp_path / 'a.jsonl'}:1") in found
    assert (
        "duplicate (normalized)",
        12,
        f"equal to {tmp_path / 'a.jsonl'}:2 after normalizing case, spaces and punctuation",
    ) in found
    assert ("very short target", 13, "the target is only 'Y'") in found
    assert report.ok  # duplicates and short targets are warnings


def test_declared_format_mismatch_says_what_was_found(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", rows_of("function-calling.jsonl")[:8])
    report = check_file(path, "alpaca", tokens=False)
    mismatch = [f for f in report.findings if f.category == "format mismatch"]
    assert [f.message for f in mismatch] == [
        "declared format 'alpaca', but 8 of 8 rows look like 'sharegpt' (keys: conversations, tools)"
    ]


def test_detects_format_of_a_file(tmp_path: Path) -> None:
    shutil.copy(KTO, tmp_path / "k.jsonl")
    report = check_file(tmp_path / "k.jsonl", tokens=False)
    assert report.datasets[0].format == "kto" and report.ok


def test_spec_holdout_overlap(workdir: Path) -> None:
    rows = rows_of("sql.jsonl")
    from axowrap.data.split import in_holdout

    held = next(r for r in rows if in_holdout(r, 0.05, 42))
    # the same question, re-typed with different case and spacing, lands in training
    twin = {**held, "question": "  " + held["question"].upper()}
    assert not in_holdout(twin, 0.05, 42)
    path = workdir / "examples" / "data" / "sql.jsonl"
    write_jsonl(path, [*rows, twin])
    report = check_source(workdir / "examples" / "sql.yaml", tokens=False)
    leaks = [f for f in report.findings if f.category == "train/held-out overlap"]
    assert len(leaks) == 1 and leaks[0].where in (1 + rows.index(held), len(rows) + 1)
    assert not report.ok


# --- CLI and validate -------------------------------------------------------------------------


def test_cli_json_and_exit_codes(workdir: Path) -> None:
    ok = run_cli("data", "check", "examples/instruct.yaml", "--json")
    assert ok.code == 0, ok.err
    data = json.loads(ok.out)
    assert data["ok"] and data["datasets"][0]["rows"] == 60 and data["datasets"][0]["tokens"]["rows"] == 60
    rows = rows_of("instruct.jsonl")
    rows[4] = {"instruction": "x"}
    write_jsonl(workdir / "examples" / "data" / "instruct.jsonl", rows)
    bad = run_cli("data", "check", "examples/instruct.yaml", "--json", "--no-tokens")
    assert bad.code == 1
    assert json.loads(bad.out)["summary"][0] == {"severity": "error", "category": "missing key", "count": 1}
    assert "1 error(s) in the data" in bad.err


def test_cli_table_output(workdir: Path) -> None:
    res = run_cli("data", "check", "examples/function-calling.yaml")
    assert res.code == 0, res.err
    assert "data/function-calling.jsonl: 40 rows, format sharegpt" in res.out
    assert "p50" in res.out and "approximate" in res.out


def test_cli_unknown_file(workdir: Path) -> None:
    res = run_cli("data", "check", "nope.jsonl")
    assert res.code == 1 and "nope.jsonl: no such file" in res.err


def test_validate_runs_the_structural_check(workdir: Path) -> None:
    rows = rows_of("sql.jsonl")
    for i in range(14):
        rows[i] = {"question": "q", "context": "c"}
    write_jsonl(workdir / "examples" / "data" / "sql.jsonl", rows, {20: "{oops"})
    res = run_cli("validate", "examples/sql.yaml")
    assert res.code == 1
    assert "examples/data/sql.jsonl:1: error: datasets[0].path: line 1: missing key 'answer' (the output)" in res.out
    # the first 10 of a kind with their lines, then a count; a kind under the cap is listed whole
    assert res.out.count("missing key 'answer'") == 10
    assert "datasets[0].path: data/sql.jsonl: missing key: ... and 4 more" in res.out
    assert "examples/data/sql.jsonl:21: error: datasets[0].path: line 21: invalid JSON (" in res.out


def test_reader_without_orjson(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import axowrap.data.readers as readers

    monkeypatch.setattr(readers, "loads", json.loads)  # the standard-library fallback
    path = write_jsonl(tmp_path / "a.jsonl", rows_of("instruct.jsonl")[:3], {1: "{bad"})
    got = list(iter_rows(path))
    assert isinstance(got[1][1], Unreadable) and got[1][1].reason.startswith("invalid JSON (Expecting property name")
    assert [w for w, r in got if isinstance(r, dict)] == [1, 3]


def test_holdout_file_overlap_and_csv_data(workdir: Path) -> None:
    rows = rows_of("sql.jsonl")[:10]
    csv_path = workdir / "examples" / "data" / "sql.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["question", "context", "answer"])
        w.writeheader()
        w.writerows(rows)
    write_jsonl(
        workdir / "examples" / "data" / "held.jsonl", [{**rows[3], "question": rows[3]["question"].lower() + " "}]
    )
    spec = workdir / "examples" / "csv.yaml"
    spec.write_text(
        (workdir / "examples" / "sql.yaml")
        .read_text()
        .replace("data/sql.jsonl", "data/sql.csv")
        .replace("eval: {holdout: 0.05}", "eval: {holdout: null, holdout_file: data/held.jsonl}"),
        encoding="utf-8",
    )
    report = check_source(spec, tokens=False)
    assert report.datasets[0].rows == 10
    leaks = [f for f in report.findings if f.category == "train/held-out overlap"]
    assert [(f.where, f.message) for f in leaks] == [
        (
            5,
            f"a training row equal to held-out row {workdir / 'examples' / 'data' / 'held.jsonl'}:1 (after normalizing)",
        )
    ]


def test_an_integer_over_64_bits_in_a_row_is_checked_not_a_crash(tmp_path: Path) -> None:
    """bench/fuzz found `data check` exiting 3: the exact-duplicate key (orjson) cannot write a
    row holding an integer over 64 bits. Such rows are compared through the canonical form."""
    data = tmp_path / "big.json"
    row = {"instruction": "q", "input": "", "output": "a", "n": 10**30}
    data.write_text(json.dumps([row, row]), encoding="utf-8")
    res = run_cli("data", "check", str(data), "--no-tokens")
    assert res.code == 0 and res.err == "", res.err
    small = tmp_path / "small.json"
    small.write_text(json.dumps([{**row, "n": 1}, {**row, "n": 1}]), encoding="utf-8")
    same = run_cli("data", "check", str(small), "--no-tokens")  # the same findings as for a small integer
    assert res.out.split("summary")[1] == same.out.split("summary")[1]


def test_the_bench_runs_this_checkout(tmp_path: Path) -> None:
    """bench/datacheck.py timed the `axowrap` script, which imports the installed axowrap (in a
    shared environment: another checkout's code)."""
    spec = importlib.util.spec_from_file_location("bench_datacheck", REPO / "bench" / "datacheck.py")
    assert spec is not None and spec.loader is not None
    sys.path.insert(0, str(REPO / "bench"))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "bench"))
    argv, env = module.check_command(tmp_path / "rows.jsonl")
    probe = [argv[0], "-c", "import axowrap; print(axowrap.__file__)"]
    out = subprocess.run(probe, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert Path(out.strip()).resolve().is_relative_to(REPO / "axowrap")
    assert argv[1:3] == ["-m", "axowrap"]
