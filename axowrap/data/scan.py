"""The facts of every row of a data file (axowrap.data.content.row_facts), in file order, on
two cores when the file is large enough to be worth it.

A large JSON lines file is cut into byte ranges at line starts (readers.line_starts); worker
processes read a range each (readers.jsonl_span, the reader `iter_rows` uses) and send back its
rows' facts packed in a few byte strings; the ranges are taken back in file order, so what comes
out is what the plain loop gives, row for row. At most WINDOW ranges are in flight: memory stays
bounded however large the file. Other files, small files, and machines with one core are read
in this process (starting processes costs more than it saves under ~50,000 rows).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from array import array
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from axowrap.data.content import HAS_NORMAL, KEY_BYTES, Facts, row_facts
from axowrap.data.formats import Layout
from axowrap.data.readers import Later, Unreadable, count_lines, is_jsonl, iter_rows, jsonl_span, line_starts, loads

PARALLEL_MIN_BYTES = 32 << 20  # ~40,000 Alpaca rows
RANGE_BYTES = 8 << 20
WORKERS = 2
WINDOW = 2 * WORKERS + 1  # ranges read ahead of the one being used

# (where, the row's facts or why it is unreadable, the row or a readers.Later that reads it again)
Scanned = tuple[int, Unreadable | Facts, Any]

_job: tuple[Path, Layout, tuple[float, int] | None] | None = None  # set in each worker


def forks_here() -> bool:
    """Can this machine read in worker processes (Linux's fork, and two CPUs to run them)?"""
    return sys.platform == "linux" and len(os.sched_getaffinity(0)) >= WORKERS


def _workers(path: Path) -> int:
    """How many processes read `path` (1: this one)."""
    if not forks_here() or not path.is_file() or path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1  # (a missing file: iter_rows says so)
    if not is_jsonl(path):
        return 1
    if threading.active_count() > 1:  # forking a process with threads can copy a lock held by one of them
        return 1
    return WORKERS


def scan_rows(
    path: Path, layout: Layout, holdout: tuple[float, int] | None, *, parallel: bool = True
) -> Iterator[Scanned]:
    """(where, facts or Unreadable, row) for every row of `path`, in file order; a row parsed
    in another process comes as a readers.Later (readers.the_row reads it again)."""
    workers = _workers(path) if parallel else 1
    if workers == 1:
        for where, row in iter_rows(path):
            if isinstance(row, Unreadable):
                yield where, row, None
            else:
                yield where, row_facts(layout, holdout, row), row
        return
    yield from _parallel(path, layout, holdout, workers)


def _init(path: Path, layout: Layout, holdout: tuple[float, int] | None) -> None:
    global _job
    _job = (path, layout, holdout)
    # Ctrl-C reaches the whole process group: this process stops the workers, quietly
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _read_range(span: tuple[int, int | None]) -> tuple[int, bytes, bytes, bytes, bytes, bytes, dict[int, Any]]:
    """Facts of the rows of one byte range, packed: (lines read, line of each row, offset of
    each row, flags, exact keys, normalized keys, {row index: its issues or Unreadable})."""
    assert _job is not None
    path, layout, holdout = _job
    lines, offsets, flags = array("q"), array("q"), array("H")
    exact, normal = bytearray(), bytearray()
    other: dict[int, Any] = {}  # only rows with issues, and unreadable ones
    blank = bytes(KEY_BYTES)
    n = 0
    with path.open("rb") as fh:
        for n, offset, row in jsonl_span(fh, *span):
            if isinstance(row, Unreadable):
                other[len(lines)] = row
                facts: Facts = ([], 0, blank, blank)
            else:
                facts = row_facts(layout, holdout, row)
                if facts[0]:
                    other[len(lines)] = facts[0]
            lines.append(n)
            offsets.append(offset)
            flags.append(facts[1])
            exact += facts[2] or blank
            normal += facts[3] or blank
        if (end := span[1]) is not None:  # the range's lines (the last row's line, but for blank lines after it)
            n = count_lines(fh, span[0], end)
    return n, lines.tobytes(), offsets.tobytes(), flags.tobytes(), bytes(exact), bytes(normal), other


def _parallel(path: Path, layout: Layout, holdout: tuple[float, int] | None, workers: int) -> Iterator[Scanned]:
    import multiprocessing

    starts = line_starts(path, RANGE_BYTES)
    spans: list[tuple[int, int | None]] = list(zip(starts, [*starts[1:], None], strict=True))
    context = multiprocessing.get_context("fork")  # the layout (a chat template judge) is inherited, not pickled
    with context.Pool(workers, _init, (path, layout, holdout)) as pool, path.open("rb") as fh:

        def reread(offset: int) -> Any:
            fh.seek(offset)
            return loads(fh.readline())

        pending = deque(pool.apply_async(_read_range, (span,)) for span in spans[:WINDOW])
        todo = iter(spans[WINDOW:])
        base = 0
        while pending:
            nlines, lines_b, offsets_b, flags_b, exact, normal, other = pending.popleft().get()
            if (span := next(todo, None)) is not None:
                pending.append(pool.apply_async(_read_range, (span,)))
            lines, offsets, flags = array("q"), array("q"), array("H")
            lines.frombytes(lines_b)
            offsets.frombytes(offsets_b)
            flags.frombytes(flags_b)
            k = 0
            for i, flag in enumerate(flags):
                found = other.get(i)
                if isinstance(found, Unreadable):
                    yield base + lines[i], found, None
                else:
                    facts = (
                        found or [],
                        flag,
                        exact[k : k + KEY_BYTES],
                        normal[k : k + KEY_BYTES] if flag & HAS_NORMAL else b"",
                    )
                    yield base + lines[i], facts, Later(reread, offsets[i])
                k += KEY_BYTES
            base += nlines
