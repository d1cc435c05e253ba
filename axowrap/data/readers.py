"""Stream rows out of JSON lines, JSON arrays, CSV and Parquet files, never the whole file.

Each row comes with where it was found (1-based line for text files, 0-based row index for
Parquet). A row that cannot be parsed comes back as an error with a short excerpt, and the
reader carries on with the next one: one bad line never hides the rest of the file.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError

CHUNK = 1 << 20
EXCERPT = 80
MAX_ELEMENT = 64 << 20  # a JSON array element larger than this is reported, not buffered
TOO_DEEP = "invalid JSON (nested too deeply to read)"
NOT_CLOSED = "invalid JSON (the array is not closed: no `]` at the end of the file)"

_fast_loads: Callable[..., Any]
try:  # orjson parses JSON lines ~2x faster; the standard library is the fallback.
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = json.loads
    _FastError = json.JSONDecodeError  # type: ignore[misc,assignment]

loads: Callable[..., Any] = _fast_loads


@dataclass(frozen=True)
class Unreadable:
    """A row that could not be parsed: why, and the start of its text."""

    reason: str
    excerpt: str


def excerpt(text: str | bytes, limit: int = EXCERPT) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def location_name(path: Path) -> str:
    """How a row's position is named in messages: `line` or `row`."""
    return "row" if path.suffix.lower() == ".parquet" else "line"


def iter_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(where, row) for every row of `path`; row is an `Unreadable` when it cannot be parsed."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise AxowrapError(f"{path}: no such data file", hint="check the path (relative to the spec for spec datasets)")
    try:
        if suffix == ".csv":
            yield from _csv_rows(path)
        elif suffix == ".parquet":
            yield from _parquet_rows(path)
        elif _first_char(path) == "[":
            yield from _json_array_rows(path)
        else:
            yield from _jsonl_rows(path)
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot read: {exc}") from None


def _first_char(path: Path) -> str:
    with path.open("rb") as fh:
        while True:
            block = fh.read(4096)
            if not block:
                return ""
            stripped = block.lstrip()
            if stripped:
                return stripped[:1].decode("latin-1")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            try:
                yield n, loads(line)
            except (_FastError, ValueError) as exc:
                if not line.strip():
                    continue
                yield n, Unreadable(f"invalid JSON ({_reason(exc)})", excerpt(line))
            except RecursionError:
                yield n, Unreadable(TOO_DEEP, excerpt(line))


def _reason(exc: Exception) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return text.split(":", 1)[0] if "line 1 column" in text else text


_NEXT_OBJECT = re.compile(r"[}\]]\s*,\s*(?=\{)")


def _json_array_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8", errors="replace") as fh:
        buf = fh.read(CHUNK)
        line = 1
        while buf and not buf.lstrip():  # whitespace before the `[` may span chunks
            line += buf.count("\n")
            buf = fh.read(CHUNK)
        eof = not buf
        pos = buf.index("[") + 1
        line += buf.count("\n", 0, pos)
        counted = pos
        while True:
            # skip separators between elements
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(buf) or eof:
                    break
                buf, pos, counted, line = _refill(fh, buf, pos, counted, line)
                eof = eof or pos >= len(buf)
            if pos >= len(buf):
                yield line + buf.count("\n", counted, pos), Unreadable(NOT_CLOSED, "")
                return
            if buf[pos] == "]":
                return
            line += buf.count("\n", counted, pos)
            counted = pos
            try:
                value, end = decoder.raw_decode(buf, pos)
            except RecursionError:
                yield line, Unreadable(TOO_DEEP, excerpt(buf[pos : pos + EXCERPT]))
                return
            except json.JSONDecodeError as exc:
                if not eof and len(buf) - pos < MAX_ELEMENT:  # maybe the element is cut by the chunk
                    more = fh.read(CHUNK)
                    buf += more
                    eof = not more
                    continue
                yield line, Unreadable(f"invalid JSON ({exc.msg})", excerpt(buf[pos : pos + EXCERPT]))
                # resume at the next object that follows a closing brace and a comma
                match = _NEXT_OBJECT.search(buf, pos + 1)
                if not match:
                    return
                pos = match.end()
                continue
            except ValueError as exc:  # a number over Python's digit limit: not a row anyone can train on
                yield line, Unreadable(f"invalid JSON ({str(exc).split(';')[0]})", excerpt(buf[pos : pos + EXCERPT]))
                return
            yield line, value
            pos = end
            if len(buf) - pos < CHUNK // 4 and not eof:
                buf, pos, counted, line = _refill(fh, buf, pos, counted, line)


def _refill(fh: Any, buf: str, pos: int, counted: int, line: int) -> tuple[str, int, int, int]:
    """Drop the consumed part of the buffer and read the next chunk."""
    line += buf.count("\n", counted, pos)
    return buf[pos:] + fh.read(CHUNK), 0, 0, line


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        start = 2  # line 1 is the header
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, ...
                yield start, Unreadable(f"invalid CSV ({exc})", "")
                start = reader.line_num + 1
                continue
            if None in row:
                yield (
                    start,
                    Unreadable(
                        f"{len(row[None])} more value(s) than header columns",
                        excerpt(",".join(str(v) for v in row.values())),
                    ),
                )
            elif any(v is None for v in row.values()):
                missing = [k for k, v in row.items() if v is None]
                yield (
                    start,
                    Unreadable(
                        f"fewer values than header columns (no {', '.join(missing)})",
                        excerpt(",".join(v for v in row.values() if v)),
                    ),
                )
            else:
                yield start, row
            start = reader.line_num + 1


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise AxowrapError(
            f"{path}: reading Parquet needs pyarrow", hint="pip install pyarrow (Axolotl installs it)"
        ) from None
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=4096)
    except Exception as exc:  # pyarrow's errors (ArrowInvalid, OSError...) name what is wrong
        raise AxowrapError(f"{path}: not a readable Parquet file ({exc})") from None
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            yield n, row
            n += 1
