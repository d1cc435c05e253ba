"""THE row reader: every data file axowrap reads (JSON lines, JSON arrays, CSV, Parquet, Arrow,
and plain text), streamed, never the whole file. The data check, the validate rule, the
held-out split, the eval and token statistics all read rows through here.

Each row comes with where it was found (1-based line for text files, 0-based row index for
Parquet and Arrow). A row that cannot be parsed comes back as an `Unreadable` (why, what kind,
the start of its text) and the reader carries on: one bad line never hides the rest of the
file. Bytes that are not UTF-8 are never replaced silently: the row they are in is an
`Unreadable` naming the line and the byte offset in the file.

A `.txt` file is read the way Axolotl reads it (`ds_type: text`, the `datasets` text loader):
one row per line, `{"text": line}`, line ends removed, an empty line an empty row.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError

CHUNK = 1 << 20
EXCERPT = 80
MAX_ELEMENT = 64 << 20  # a JSON array element larger than this is reported, not buffered
BATCH_ROWS = 4096

# Kinds of unreadable rows (the data check's categories).
INVALID_JSON = "invalid JSON"
INVALID_UTF8 = "invalid UTF-8"
WRONG_TYPE = "wrong type"
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

# Bytes that are not UTF-8, as the `surrogateescape` error handler decodes them.
_ESCAPED = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Unreadable:
    """A row that could not be parsed: why, the start of its text, and the kind of problem."""

    reason: str
    excerpt: str
    category: str = INVALID_JSON


# A row parsed elsewhere (axowrap.data.scan), read again from its file when asked for:
# Later(read, offset)() == read(offset). One is made for every row of a large file: a partial
# (a C object) is ~3x cheaper to make than an instance of a class.
Later = partial


def the_row(row: Any) -> Any:
    """A row, or what a `Later` reads."""
    return row() if type(row) is Later else row


def excerpt(text: str | bytes, limit: int = EXCERPT) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(_ESCAPED.sub("\ufffd", text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def location_name(path: Path) -> str:
    """How a row's position is named in messages: `line` or `row`."""
    return "row" if path.suffix.lower() in (".parquet", ".arrow") else "line"


def _bad_utf8(raw: bytes, start: int, file_offset: int) -> Unreadable:
    """The row of a line whose byte `start` is not UTF-8 (`file_offset`: where the line starts)."""
    col = len(raw[:start].decode("utf-8", "replace")) + 1
    return Unreadable(
        f"invalid UTF-8: byte 0x{raw[start]:02x} at byte offset {file_offset + start} (column {col})",
        excerpt(raw),
        INVALID_UTF8,
    )


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
        elif suffix == ".arrow":
            yield from _arrow_rows(path)
        elif suffix == ".txt":
            yield from _text_rows(path)
        elif _first_char(path) == "[":
            yield from _json_array_rows(path)
        else:
            yield from _jsonl_rows(path)
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot read: {exc}") from None


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, int, Any]]:
    """(file, where, row) for every row of several files in turn (a Hub dataset's data files)."""
    for path in paths:
        for where, row in iter_rows(path):
            yield path, where, row


def read_rows(paths: Path | Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every row of `paths`, for code that needs them all parsed (the held-out split, the eval):
    the first unreadable row, or a row that is not an object, is an error naming its line."""
    for path in [paths] if isinstance(paths, Path) else paths:
        for where, row in iter_rows(path):
            if isinstance(row, Unreadable):
                raise AxowrapError(
                    f"{path}:{where}: {row.reason}", hint=f"run `axowrap data check {path}` for every finding"
                )
            if not isinstance(row, dict):
                raise AxowrapError(
                    f"{path}:{where}: a row must be a JSON object, not {type(row).__name__}",
                    hint=f"run `axowrap data check {path}` for every finding",
                )
            yield row


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
        for n, _, row in jsonl_span(fh, 0, None):
            yield n, row


def is_jsonl(path: Path) -> bool:
    """Whether `iter_rows` reads `path` as JSON lines (so it can be read in byte ranges)."""
    return path.suffix.lower() not in (".csv", ".parquet", ".arrow", ".txt") and _first_char(path) != "["


def jsonl_span(fh: Any, start: int, end: int | None) -> Iterator[tuple[int, int, Any]]:
    """(line, byte offset, row) of the JSON lines that start in bytes [start, end) of the binary
    file `fh` (`start` must be where a line starts; lines are numbered from 1 at `start`)."""
    offset = start
    fh.seek(start)
    for n, line in enumerate(fh, 1):
        if end is not None and offset >= end:
            return
        try:
            yield n, offset, loads(line)
        except RecursionError:
            yield n, offset, Unreadable(TOO_DEEP, excerpt(line))
        except (_FastError, ValueError) as exc:
            if not line.strip():
                pass
            else:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as bad:
                    yield n, offset, _bad_utf8(line, bad.start, offset)
                else:
                    yield n, offset, Unreadable(f"invalid JSON ({_reason(exc)})", excerpt(line))
        offset += len(line)


def count_lines(fh: Any, start: int, end: int) -> int:
    """How many lines start in bytes [start, end) of `fh` (`end` being a line start)."""
    fh.seek(start)
    n = 0
    while start < end:
        block = fh.read(min(CHUNK, end - start))
        if not block:
            break
        n += block.count(b"\n")
        start += len(block)
    return n


def line_starts(path: Path, every: int) -> list[int]:
    """Offsets of line starts about `every` bytes apart, from 0: the byte ranges to read a JSON
    lines file in (each ends where the next starts; the last at the end of the file)."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as fh:
        for at in range(every, size, every):
            if at <= starts[-1]:
                continue
            fh.seek(at - 1)  # the line that holds byte at-1 ends at or after `at`
            fh.readline()
            if (pos := fh.tell()) >= size:
                break
            starts.append(pos)
    return starts


def _reason(exc: Exception) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return text.split(":", 1)[0] if "line 1 column" in text else text


def _text_rows(path: Path) -> Iterator[tuple[int, Any]]:
    # datasets' text loader reads in universal-newline mode: "\n", "\r\n" and "\r" end a line.
    offset = 0
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                yield n, _bad_utf8(raw, bad.start, offset)
            else:
                for line in _LINE_END.split(text.removesuffix("\n").removesuffix("\r")):
                    yield n, {"text": line}
            offset += len(raw)


_LINE_END = re.compile(r"\r\n?|\n")
_NEXT_OBJECT = re.compile(r"[}\]]\s*,\s*(?=\{)")


class _ArrayBuffer:
    """A sliding text window over a JSON array file that knows the line of any position, and
    its byte offset when asked (only to locate a problem). Bytes that are not UTF-8 are kept as
    surrogate escapes, so they can be found and located."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.bytes_read = 0
        self.buf = ""
        self.counted, self.counted_line = 0, 1  # lines are counted up to buf[counted]
        self.escaped = False
        self.read_more()

    def read_more(self) -> None:
        raw = self.fh.read(CHUNK)
        self.bytes_read += len(raw)
        self.eof = not raw
        more = self.decoder.decode(raw, final=self.eof)
        self.escaped = self.escaped or bool(_ESCAPED.search(more))
        self.buf += more

    def line(self, pos: int) -> int:
        """The line of buf[pos] (positions are asked for in increasing order)."""
        self.counted_line += self.buf.count("\n", self.counted, pos)
        self.counted = pos
        return self.counted_line

    def drop(self, pos: int) -> None:
        """Forget buf[:pos] and read the next chunk."""
        self.line(pos)
        self.buf = self.buf[pos:]
        self.counted = 0
        self.read_more()

    def offset_of(self, pos: int) -> int:
        """The byte offset in the file of buf[pos] (only asked for to locate a problem)."""
        pending = len(self.decoder.getstate()[0])
        return self.bytes_read - pending - len(self.buf[pos:].encode("utf-8", "surrogateescape"))


def _json_array_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Elements of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    with path.open("rb") as fh:
        w = _ArrayBuffer(fh)
        while not w.buf.lstrip() and not w.eof:  # whitespace before the `[` may span chunks
            w.drop(len(w.buf))
        pos = w.buf.index("[") + 1
        while True:
            # skip separators between elements
            while True:
                while pos < len(w.buf) and w.buf[pos] in " \t\r\n,":
                    pos += 1
                if pos < len(w.buf) or w.eof:
                    break
                w.drop(pos)
                pos = 0
            if pos >= len(w.buf):
                yield w.line(pos), Unreadable(NOT_CLOSED, "")
                return
            if w.buf[pos] == "]":
                return
            try:
                value, end = decoder.raw_decode(w.buf, pos)
            except RecursionError:
                yield w.line(pos), Unreadable(TOO_DEEP, excerpt(w.buf[pos : pos + EXCERPT]))
                return
            except json.JSONDecodeError as exc:
                if not w.eof and len(w.buf) - pos < MAX_ELEMENT:  # maybe the element is cut by the chunk
                    w.read_more()
                    continue
                if exc.pos >= len(w.buf) and w.eof:  # the file ends inside this element
                    yield w.line(pos), Unreadable(NOT_CLOSED, excerpt(w.buf[pos : pos + EXCERPT]))
                    return
                yield w.line(pos), Unreadable(f"invalid JSON ({exc.msg})", excerpt(w.buf[pos : pos + EXCERPT]))
                # resume at the next object that follows a closing brace and a comma
                match = _NEXT_OBJECT.search(w.buf, pos + 1)
                if not match:
                    return
                pos = match.end()
                continue
            except ValueError as exc:  # a number over Python's digit limit: not a row anyone can train on
                reason = f"invalid JSON ({str(exc).split(';')[0]})"
                yield w.line(pos), Unreadable(reason, excerpt(w.buf[pos : pos + EXCERPT]))
                return
            line = w.line(pos)
            bad = _ESCAPED.search(w.buf, pos, end) if w.escaped else None
            if bad is not None:
                byte = ord(bad.group()) - 0xDC00
                yield (
                    line,
                    Unreadable(
                        f"invalid UTF-8: byte 0x{byte:02x} at byte offset {w.offset_of(bad.start())}"
                        f" (line {line + w.buf.count(chr(10), pos, bad.start())})",
                        excerpt(w.buf[pos : pos + EXCERPT]),
                        INVALID_UTF8,
                    ),
                )
            else:
                yield line, value
            pos = end
            if len(w.buf) - pos < CHUNK // 4 and not w.eof:
                w.drop(pos)
                pos = 0


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    lines: list[tuple[int, str]] = []  # (byte offset, text) of the physical lines of the current record

    def physical(fh: Any) -> Iterator[str]:
        offset = 0
        for raw in fh:
            text = raw.decode("utf-8", "surrogateescape")
            lines.append((offset, text))
            offset += len(raw)
            yield text

    with path.open("rb") as fh:
        reader = csv.DictReader(physical(fh))
        try:
            fields = reader.fieldnames
        except csv.Error as exc:
            yield 1, Unreadable(f"invalid CSV header ({exc})", "", WRONG_TYPE)
            return
        header = lines[:] if fields is not None else []
        lines.clear()
        for i, (offset, text) in enumerate(header):
            if match := _ESCAPED.search(text):
                raw = text.encode("utf-8", "surrogateescape")
                yield 1 + i, _bad_utf8(raw, len(text[: match.start()].encode("utf-8", "surrogateescape")), offset)
                return
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, ...
                yield reader.line_num - len(lines) + 1, Unreadable(f"invalid CSV ({exc})", "", WRONG_TYPE)
                lines.clear()
                continue
            while len(lines) > 1 and not lines[0][1].strip():  # blank lines before the record
                del lines[0]
            start = reader.line_num - len(lines) + 1
            bad = next(((i, m) for i, (_, t) in enumerate(lines) if (m := _ESCAPED.search(t))), None)
            if bad is not None:
                i, match = bad
                offset, text = lines[i]
                raw = text.encode("utf-8", "surrogateescape")
                yield start + i, _bad_utf8(raw, len(text[: match.start()].encode("utf-8", "surrogateescape")), offset)
            elif None in row:
                yield (
                    start,
                    Unreadable(
                        f"{len(row[None])} more value(s) than header columns",
                        excerpt(",".join(str(v) for v in row.values())),
                        WRONG_TYPE,
                    ),
                )
            elif any(v is None for v in row.values()):
                missing = [k for k, v in row.items() if v is None]
                yield (
                    start,
                    Unreadable(
                        f"fewer values than header columns (no {', '.join(missing)})",
                        excerpt(",".join(v for v in row.values() if v)),
                        WRONG_TYPE,
                    ),
                )
            else:
                yield start, row
            lines.clear()


def _arrow_batches(path: Path) -> Iterator[Any]:
    pa = _pyarrow(path)
    import pyarrow.ipc as ipc

    with pa.memory_map(str(path)) as source:
        try:
            reader = ipc.open_stream(source)  # what `datasets` writes (save_to_disk, the cache)
        except pa.ArrowInvalid:
            source.seek(0)
            file_reader = ipc.open_file(source)
            for i in range(file_reader.num_record_batches):
                yield file_reader.get_batch(i)
            return
        yield from reader


def _pyarrow(path: Path) -> Any:
    try:
        import pyarrow as pa
    except ImportError:
        raise AxowrapError(
            f"{path}: reading {path.suffix} files needs pyarrow", hint="pip install pyarrow (Axolotl installs it)"
        ) from None
    return pa


def _parquet_batches(path: Path) -> Iterator[Any]:
    pa = _pyarrow(path)
    import pyarrow.parquet as pq

    try:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
    except pa.ArrowException as exc:
        raise AxowrapError(f"{path}: not a readable Parquet file ({exc})") from None


def _batch_rows(path: Path, batches: Iterator[Any]) -> Iterator[tuple[int, Any]]:
    n = 0
    for batch in batches:
        try:
            rows = batch.to_pylist()
        except (UnicodeDecodeError, ValueError) as exc:  # a string column holding bytes that are not UTF-8
            for i in range(batch.num_rows):
                try:
                    rows = batch.slice(i, 1).to_pylist()
                except (UnicodeDecodeError, ValueError):
                    yield n + i, Unreadable(f"invalid UTF-8 in a string column ({exc})", "", INVALID_UTF8)
                else:
                    yield n + i, rows[0]
            n += batch.num_rows
            continue
        for row in rows:
            yield n, row
            n += 1


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    yield from _batch_rows(path, _parquet_batches(path))


def _arrow_rows(path: Path) -> Iterator[tuple[int, Any]]:
    pa = _pyarrow(path)
    try:
        yield from _batch_rows(path, _arrow_batches(path))
    except pa.ArrowInvalid as exc:
        raise AxowrapError(f"{path}: not an Arrow file (IPC stream or file): {exc}") from None
