"""`data check` reads a large JSON lines file in byte ranges on two worker processes
(axowrap.data.scan, issue 23): the report must be the one the plain loop in this process gives,
finding for finding and in the same order, whatever the ranges cut."""

from __future__ import annotations

import json
import string
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import unless_ci
from hypothesis import given
from hypothesis import strategies as st
from test_datacheck_findings import bench_rows

from axowrap.data import check as data_check
from axowrap.data import scan
from axowrap.data.content import normalize
from axowrap.data.formats import layout_for
from axowrap.data.readers import count_lines, line_starts
from axowrap.data.texts import conversation, prompt_and_target
from axowrap.errors import AxowrapError


def hostile(path: Path) -> Path:
    """The findings bench rows, with blank lines, unreadable lines, rows of the wrong type and
    rows missing keys in between, and no newline at the end."""
    bench_rows(path, 1500)
    out = []
    for i, line in enumerate(path.read_bytes().splitlines(keepends=True)):
        out.append(line)
        if i % 211 == 17:
            out.append(b"\n  \n")
        if i % 173 == 3:
            out.append(b'{"instruction": 5}\n[1, 2]\n{bad json\n\xff{"output": "x"}\n')
    path.write_bytes(b"".join(out) + b'{"instruction": "last", "output": "row"}')
    return path


# The worker path forks: on a developer's Mac or a one-CPU box data check reads in one process,
# which every other data check test covers; CI (Linux, two CPUs) must run these, never skip them.
FORKS = unless_ci(not scan.forks_here(), "data check's worker processes need Linux and two CPUs")


def report_of(path: Path, *, parallel: bool, holdout: tuple[float, int] | None = None, fmt: str = "alpaca") -> Any:
    report = data_check.DataReport()
    if parallel:
        assert scan._workers(path) == 2
    ds = data_check.check_dataset(report, path, layout_for(fmt), holdout=holdout, token_counter=None)
    report.datasets.append(ds)
    return report.to_json()


@pytest.fixture
def split_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_check, "SHOWN_PER_CATEGORY", 10**9)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    # threads other tests leave behind (a Hub server's) would keep the scan in this process
    monkeypatch.setattr(scan.threading, "active_count", lambda: 1)


@FORKS
@pytest.mark.parametrize("range_bytes", [4096, 100_003, 1 << 30])
@pytest.mark.parametrize("holdout", [None, (0.1, 3)])
def test_workers_find_what_the_plain_loop_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_everything: None, range_bytes: int, holdout: Any
) -> None:
    path = hostile(tmp_path / "rows.jsonl")
    monkeypatch.setattr(scan, "RANGE_BYTES", range_bytes)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 1 << 62)
    plain = report_of(path, parallel=False, holdout=holdout)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    assert report_of(path, parallel=True, holdout=holdout) == plain
    counts = {s["category"] for s in plain["summary"]}
    assert {"invalid JSON", "invalid UTF-8", "wrong type", "missing key", "duplicate (exact)"} <= counts


@FORKS
def test_workers_read_back_the_rows_a_format_mismatch_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split_everything: None
) -> None:
    path = tmp_path / "chat.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]} for i in range(900)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(scan, "RANGE_BYTES", 5000)
    found = report_of(path, parallel=True)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 1 << 62)
    assert found == report_of(path, parallel=False)
    assert "but 900 of 900 rows look like 'messages' (keys: messages)" in json.dumps(found)


def test_small_files_are_read_in_this_process(tmp_path: Path) -> None:
    path = bench_rows(tmp_path / "rows.jsonl", 200)
    assert scan._workers(path) == 1


def test_no_fork_while_another_thread_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    path = bench_rows(tmp_path / "rows.jsonl", 200)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert scan._workers(path) == 1
    finally:
        stop.set()
        other.join()


def test_a_missing_file_is_the_readers_error(tmp_path: Path, split_everything: None) -> None:
    with pytest.raises(AxowrapError, match="no such data file"):
        next(scan.scan_rows(tmp_path / "gone.jsonl", layout_for("alpaca"), None))


@pytest.mark.parametrize("every", [1, 3, 7, 64, 10_000])
@pytest.mark.parametrize("text", [b"", b"a\n", b"abc\n\n\ndefgh\nij", b"\n\n\n", b"x" * 50 + b"\nyy\n" + b"z" * 30])
def test_byte_ranges_start_at_line_starts_and_count_every_line(tmp_path: Path, every: int, text: bytes) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(text)
    starts = line_starts(path, every)
    assert starts[0] == 0 and starts == sorted(set(starts))
    assert all(text[s - 1 : s] == b"\n" for s in starts[1:])
    with path.open("rb") as fh:
        counted = [count_lines(fh, a, b) for a, b in zip(starts, starts[1:], strict=False)]
    assert sum(counted) == text[: starts[-1]].count(b"\n")


_PUNCTUATION = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))


@given(st.text(alphabet=st.sampled_from("aZ É ß,.!?\t\n\r\x0b\x0c\x1c\xa0İK東-_")))
def test_normalize_is_the_plain_definition(text: str) -> None:
    # the definition before the ASCII fast path (str.lower() first, on every text)
    assert normalize(text) == b" ".join(text.lower().encode("utf-8").translate(_PUNCTUATION).split())


_value = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.lists(st.fixed_dictionaries({"text": st.text(max_size=3)}))
)


@given(st.dictionaries(st.sampled_from(["instruction", "input", "output", "system", "other"]), _value))
def test_alpaca_prompt_and_target_are_those_of_the_conversation(row: dict[str, Any]) -> None:
    layout = layout_for("alpaca")
    turns = conversation(layout, row)
    plain = "\n".join(c for r, c in turns if r != "assistant"), "\n".join(c for r, c in turns if r == "assistant")
    assert prompt_and_target(layout, row) == plain
