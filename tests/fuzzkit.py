"""The fuzz kit: call the CLI in-process the way a terminal would, and the inputs to call it with.

Shared by tests/test_fuzz.py (bounded, in CI) and bench/fuzz.py (>= 20,000 calls, figures in
BENCHMARKS.md). The invariant every call must keep: exit code in {0, 1, 2, 130}, no
traceback on the terminal, back within `TIMEOUT_S`.

- `call(argv)`: runs `axowrap.cli.main.main` with stdout/stderr as a real UTF-8 terminal has
  them (strict encoding: a lone surrogate that reaches the terminal fails as it would there)
  and a per-call alarm (a hang becomes a `Verdict` with `hung=True`, not a stuck test).
- `spec_values()`, `config_values()`, `row_files()`, `rundir_files()`: hypothesis strategies
  around the spec schema, around Axolotl configs, over data rows and over run-directory files.
- `malformed_corpus(folder)`: one file per class of malformed input the adversarial review
  found (control characters, deep nesting, huge numbers, alias bombs, FIFOs, symlink loops...).
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
ALLOWED = {0, 1, 2, 130}
TIMEOUT_S = 20.0
SPEC_SCHEMA = json.loads((REPO / "schemas" / "spec.schema.json").read_text(encoding="utf-8"))


# The 8 commands every generated spec goes through ({f}: the spec file).
SPEC_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("validate", "{f}"),
    ("render", "{f}", "-o", "out.yaml"),
    ("plan", "{f}"),
    ("data", "check", "{f}", "--no-tokens"),
    ("run", "{f}", "--dry-run"),
    ("launch", "slurm", "{f}", "-o", "job.sbatch"),
    ("launch", "skypilot", "{f}", "-o", "task.yaml"),
    ("lock", "{f}"),
)
# Every command that reads a spec-like file, for the corpus of malformed files.
FILE_COMMANDS: tuple[tuple[str, ...], ...] = (
    *SPEC_COMMANDS,
    ("render", "{f}", "--explain", "lora_r"),
    ("diff", "{f}", "sql.yaml"),
    ("lock", "--check", "{f}"),
)
# Every command that reads a run directory ({f}: the run directory).
RUN_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("status", "{f}"),
    ("status", "{f}", "--json"),
    ("train", "{f}", "--dry-run"),
    ("merge", "{f}", "--dry-run"),
    ("gguf", "{f}", "--dry-run"),
    ("eval", "{f}", "--dry-run"),
    ("push", "{f}", "--dry-run"),
    ("diff", "{f}", "sql.yaml"),
    ("serve", "{f}", "--port", "1"),
)


def argv(template: tuple[str, ...], f: str) -> list[str]:
    return [a.format(f=f) for a in template]


class Hang(BaseException):
    """Raised by the alarm inside a call that ran past its timeout (BaseException: nothing
    in axowrap's handlers catches it)."""


@dataclass(frozen=True)
class Verdict:
    argv: tuple[str, ...]
    code: int | None
    out: str
    err: str
    seconds: float
    hung: bool = False

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.out + self.err

    @property
    def ok(self) -> bool:
        return not self.hung and self.code in ALLOWED and not self.traceback

    def why(self) -> str:
        if self.hung:
            return f"hung (> {TIMEOUT_S:g} s)"
        if self.code not in ALLOWED:
            return f"exit {self.code}"
        return "traceback printed"

    def describe(self) -> str:
        return f"{' '.join(self.argv)!r}: {self.why()}\n--- stderr\n{self.err[-3000:]}\n--- stdout\n{self.out[-1500:]}"


class _Terminal(io.TextIOWrapper):
    """A text stream like a UTF-8 terminal's: strict encoding, `isatty()` false."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="strict", line_buffering=True)

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(_signum: int, _frame: Any) -> None:
        raise Hang()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(*argv: str, timeout: float = TIMEOUT_S, cwd: Path | None = None) -> Verdict:
    """Run `axowrap ARGV` in this process as a terminal would; never raises (but KeyboardInterrupt)."""
    from axowrap.cli.main import main

    saved = sys.stdout, sys.stderr, sys.stdin, sys.argv, os.getcwd()
    out, err = _Terminal(), _Terminal()
    sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO("")
    sys.argv = ["axowrap", *argv]
    code: int | None = None
    hung = False
    start = time.perf_counter()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with _alarm(timeout):
            code = main(list(argv))
    except Hang:
        hung = True
    except SystemExit as exc:  # main never exits; count it as what a shell would see
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # main must catch everything: this is the traceback a user would see
        import traceback

        err.write("Traceback (most recent call last)\n" + "".join(traceback.format_exception(exc)))
        code = 1
    finally:
        seconds = time.perf_counter() - start
        sys.stdout, sys.stderr, sys.stdin, sys.argv = saved[:4]
        os.chdir(saved[4])
    return Verdict(tuple(argv), code, out.text(), err.text(), seconds, hung)


# ---------------------------------------------------------------- values


# Strings that have broken parsers, shells, terminals and markdown before.
NASTY_STRINGS = [
    "",
    " ",
    "\n",
    "x\n",
    "a\nb: 1",
    "\x00",
    "\x1b[31mred\x1b[0m",
    "::error::injected",
    "\ud800",
    "\u2028",
    "\ufeff",
    "$(id)",
    "`id`",
    "'; rm -rf / #",
    '"',
    "|",
    "```",
    "../" * 2 + "etc/passwd",
    "/",
    "/proc/self/environ",
    "~",
    "a" * 300,
    "é" * 200,
    "{{ 7*7 }}",
    "{instruction}",
    "%s%n",
    "-1",
    "1e400",
    ".nan",
    "null",
    "yes",
    "0x10",
    "org/model",
    "data/sql.jsonl",
    "data/missing.jsonl",
    "data",
    ".",
]
NASTY_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2**63,
    -(2**63) - 1,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e-320,
    1e308,
    0.5,
    -0.0,
    True,
    False,
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from(NASTY_NUMBERS)
    | st.just(5000).map(lambda digits: 10**digits)  # a literal would break hypothesis' repr
    | st.sampled_from(NASTY_STRINGS)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(NASTY_STRINGS), kids, max_size=4)
    ),
    max_leaves=10,
)


def schema_paths(schema: dict[str, Any] = SPEC_SCHEMA, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path the spec schema names (lists as index 0)."""
    root = SPEC_SCHEMA

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return resolve(root["$defs"][ref.rsplit("/", 1)[-1]])
        return node

    out: list[tuple[Any, ...]] = []
    node = resolve(schema)
    for key, sub in (node.get("properties") or {}).items():
        here = (*prefix, key)
        out.append(here)
        sub = resolve(sub)
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            out.extend(schema_paths(sub["items"], (*here, 0)))
        elif "properties" in sub:
            out.extend(schema_paths(sub, here))
        for alt in sub.get("anyOf", []) + sub.get("oneOf", []):
            alt = resolve(alt)
            if "properties" in alt:
                out.extend(schema_paths(alt, here))
    return sorted(set(out), key=str)


SPEC_PATHS = schema_paths()


def example_specs() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.yaml"))}


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`data` with `path` set to `value` (containers on the way made or replaced as needed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(data) if isinstance(data, list) and data else [{}]
        items[0] = _set(items[0], rest, value)
        return items
    mapping = dict(data) if isinstance(data, dict) else {}
    mapping[head] = _set(mapping.get(head), rest, value)
    return mapping


def _delete(data: Any, path: tuple[Any, ...]) -> Any:
    if not path or not isinstance(data, (dict, list)):
        return data
    head, rest = path[0], path[1:]
    if isinstance(data, list):
        if not data:
            return data
        return [_delete(data[0], rest) if rest else None, *data[1:]] if rest else data[1:]
    if head not in data:
        return data
    out = dict(data)
    if rest:
        out[head] = _delete(out[head], rest)
    else:
        del out[head]
    return out


mutation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(SPEC_PATHS), values),
    st.tuples(st.just("delete"), st.sampled_from(SPEC_PATHS), st.none()),
    st.tuples(st.just("unknown"), st.sampled_from([(), *SPEC_PATHS]), values),
)


@st.composite
def spec_values(draw: Callable[..., Any]) -> Any:
    """A spec as data: an example spec with 1-4 mutations at schema paths (any value, any type),
    or, rarely, any value at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(values)
    base = draw(st.sampled_from(sorted(example_specs().items())))[1]
    data: Any = base
    for kind, path, value in draw(st.lists(mutation, min_size=1, max_size=4)):
        if kind == "set":
            data = _set(data, path, value)
        elif kind == "delete":
            data = _delete(data, path)
        else:
            data = _set(data, (*path, draw(st.sampled_from(NASTY_STRINGS + ["lora_rr", "epoch", "x"]))), value)
    return data


def golden_configs() -> dict[str, dict[str, Any]]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "tests" / "golden").glob("*.yaml"))
    }


@st.composite
def config_values(draw: Callable[..., Any]) -> Any:
    """A raw Axolotl config: a golden rendered config with 1-4 keys set to any value, removed or added."""
    data = dict(draw(st.sampled_from(sorted(golden_configs().items())))[1])
    keys = sorted(data)
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.integers(0, 3))
        key = draw(st.sampled_from(keys))
        if what == 0:
            data.pop(key, None)
        elif what == 1 and isinstance(data.get("datasets"), list) and data["datasets"]:
            entry = dict(data["datasets"][0]) if isinstance(data["datasets"][0], dict) else {}
            entry[draw(st.sampled_from([*entry, "type", "path", "x"]))] = draw(values)
            data["datasets"] = [entry]
        else:
            data[draw(st.sampled_from([key, "lora_rr", "x", *NASTY_STRINGS[:12]]))] = draw(values)
    return data


@contextmanager
def _any_int_digits() -> Iterator[None]:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def dump(data: Any, how: int) -> str:
    """`data` as a YAML file one of three ways (PyYAML block, PyYAML flow, JSON)."""
    with _any_int_digits():
        return _dump(data, how)


def _dump(data: Any, how: int) -> str:
    try:
        if how == 0:
            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if how == 1:
            return yaml.safe_dump(data, default_flow_style=True, allow_unicode=False)
        return json.dumps(data, ensure_ascii=False)
    except (ValueError, TypeError, yaml.YAMLError):
        return yaml.safe_dump(data, allow_unicode=False)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


# ---------------------------------------------------------------- data rows

row_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(["role", "content", "from", "value", "x"]) | st.text(max_size=8), kids, max_size=4
        )
    ),
    max_leaves=8,
)
alpaca_row = st.fixed_dictionaries(
    {"question": row_values, "context": row_values, "answer": row_values}, optional={"x": row_values}
)
chat_row = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "system", "tool", "x"]) | row_values,
                    "content": row_values,
                }
            ),
            max_size=4,
        )
        | row_values
    }
)


@st.composite
def row_files(draw: Callable[..., Any]) -> tuple[str, bytes]:
    """(suffix, bytes) of a data file: JSON lines, a JSON array or CSV, with any rows, and
    sometimes cut short or with raw bytes inserted."""
    rows = draw(st.lists(alpaca_row | chat_row | row_values, max_size=6))
    suffix = draw(st.sampled_from([".jsonl", ".json", ".csv"]))
    with _any_int_digits():
        return suffix, _row_bytes(draw, rows, suffix)


def _row_bytes(draw: Callable[..., Any], rows: list[Any], suffix: str) -> bytes:
    if suffix == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    elif suffix == ".json":
        text = json.dumps(rows, ensure_ascii=False, indent=draw(st.sampled_from([None, 1])))
    else:
        import csv

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["question", "context", "answer"])
        for r in rows:
            writer.writerow(
                [json.dumps(v) if not isinstance(v, str) else v for v in (r.values() if isinstance(r, dict) else [r])]
            )
        text = buf.getvalue()
    data = text.encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, 3))
    if cut == 1 and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif cut == 2:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=8)) + data[at:]
    return data


# ---------------------------------------------------------------- run-directory files

RUNDIR_FILES = ("state.json", "manifest.json", "axolotl.yaml", "spec.yaml")


@st.composite
def rundir_files(draw: Callable[..., Any], originals: dict[str, str]) -> tuple[str, bytes]:
    """(name, bytes): one file of a prepared run directory, damaged: cut, replaced by any JSON
    or YAML value, a value inside it changed, or raw bytes."""
    name = draw(st.sampled_from(RUNDIR_FILES))
    text = originals.get(name, "")
    how = draw(st.integers(0, 4))
    if how == 0:
        data = text.encode()[: draw(st.integers(0, max(len(text) - 1, 0)))]
    elif how == 1:
        data = dump(draw(values), draw(st.integers(0, 2))).encode("utf-8", "surrogatepass")
    elif how == 2 and name.endswith(".json") and text:
        parsed = json.loads(text)
        path = draw(st.sampled_from(_json_paths(parsed)))
        changed = _set_path(parsed, path, draw(values))
        with _any_int_digits():
            data = json.dumps(changed, default=str, allow_nan=True).encode("utf-8", "surrogatepass")
    elif how == 3:
        data = draw(st.binary(max_size=64))
    else:
        parsed = yaml.safe_load(text) if text else {}
        if isinstance(parsed, dict) and parsed:
            parsed[draw(st.sampled_from(sorted(parsed, key=str)))] = draw(values)
        data = dump(parsed, draw(st.integers(0, 2))).encode("utf-8", "surrogatepass")
    return name, data


def _json_paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [prefix]
    if depth < 4 and isinstance(value, dict):
        for k, v in value.items():
            out += _json_paths(v, (*prefix, k), depth + 1)
    elif depth < 4 and isinstance(value, list) and value:
        out += _json_paths(value[0], (*prefix, 0), depth + 1)
    return out


def _set_path(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _set_path(value[head], rest, new)}
    items = list(value)
    items[head] = _set_path(items[head], rest, new)
    return items


# ---------------------------------------------------------------- the corpus of malformed files


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A 'billion laughs' YAML document of well under 1 KB."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


SPEC_HEAD = "task: sql\nbase_model: org/model\ndatasets: [{path: data/sql.jsonl}]\n"


def malformed_specs() -> dict[str, bytes]:
    """name -> bytes of a spec-like YAML file, one per class of malformed input."""
    deep_flow = "task: sql\nbase_model: org/m\naxolotl: {x: " + "[" * 5000 + "]" * 5000 + "}\n"
    deep_block = "task: sql\n" + "".join(" " * i + f"k{i}:\n" for i in range(400)) + " " * 400 + "v: 1\n"
    cases = {
        "empty": "",
        "only-comment": "# nothing\n",
        "null": "null\n",
        "list": "- a\n- b\n",
        "scalar": "just text\n",
        "multi-doc": SPEC_HEAD + "---\ntask: sql\n",
        "control-char": "task: sql\nbase_model: org/m\x01\n",
        "control-char-first": "\x01task: sql\n",
        "nul-byte": "task: sql\x00\n",
        "escape-in-key": SPEC_HEAD + '"\\e[31m\\e]0;pwned\\a": 1\n',
        "ci-command-key": SPEC_HEAD + '"\\n::error::injected": 1\n',
        "lone-surrogate-value": 'task: sql\nbase_model: "org/\\ud800"\ndatasets: [{path: data/sql.jsonl}]\n',
        "lone-surrogate-key": SPEC_HEAD + '"\\udcff": 1\n',
        "deep-flow": deep_flow,
        "deep-block": deep_block,
        "deep-extends-list": "task: sql\nextends: " + "[" * 3000 + "]" * 3000 + "\n",
        "big-int": SPEC_HEAD + "training: {epochs: " + "9" * 5000 + "}\n",
        "big-int-key": SPEC_HEAD + "9" * 5000 + ": 1\n",
        "inf": SPEC_HEAD + "training: {learning_rate: 1e400}\n",
        "neg-inf": SPEC_HEAD + "training: {learning_rate: -.inf}\n",
        "nan": SPEC_HEAD + "training: {learning_rate: .nan}\n",
        "nan-epochs": SPEC_HEAD + "training: {epochs: .nan}\n",
        "nan-holdout": SPEC_HEAD + "eval: {holdout: .nan}\n",
        "inf-axolotl": SPEC_HEAD + "axolotl: {weight_decay: .inf}\n",
        "long-base-model": "task: sql\nbase_model: " + "a" * 300 + "\ndatasets: [{path: data/sql.jsonl}]\n",
        "long-path-model": "task: sql\nbase_model: ./"
        + "/".join(["b" * 200] * 30)
        + "\ndatasets: [{path: data/sql.jsonl}]\n",
        "long-dataset": "task: sql\nbase_model: org/m\ndatasets: [{path: " + "d" * 300 + ".jsonl}]\n",
        "root-base-model": "task: sql\nbase_model: /\ndatasets: [{path: data/sql.jsonl}]\n",
        "proc-base-model": "task: sql\nbase_model: /proc\ndatasets: [{path: data/sql.jsonl}]\n",
        "dataset-is-dir": "task: sql\nbase_model: org/m\ndatasets: [{path: data}]\n",
        "dataset-dev-zero": "task: sql\nbase_model: org/m\ndatasets: [{path: /dev/zero}]\n",
        "dataset-environ": "task: sql\nbase_model: org/m\ndatasets: [{path: /proc/self/environ}]\n",
        "extends-environ": "extends: /proc/self/environ\ntask: sql\n",
        "extends-dir": "extends: data\ntask: sql\n",
        "extends-fifo": "extends: fifo.yaml\ntask: sql\n",
        "extends-self": "extends: extends-self.yaml\ntask: sql\n",
        "compute-list": SPEC_HEAD + "compute: [cpu]\n",
        "datasets-int": "task: sql\nbase_model: org/m\ndatasets: [5]\n",
        "datasets-str": "task: sql\nbase_model: org/m\ndatasets: data/sql.jsonl\n",
        "roles-dict": SPEC_HEAD.replace("}]", ", format: messages, roles: {user: {a: 1}}}]"),
        "fields-list": SPEC_HEAD.replace("}]", ", fields: [1, 2]}]"),
        "timestamp": SPEC_HEAD + "name: 2024-01-01\n",
        "binary-tag": SPEC_HEAD + "name: !!binary aGVsbG8=\n",
        "set-tag": SPEC_HEAD + "labels: !!set {a, b}\n",
        "python-tag": SPEC_HEAD + "name: !!python/object:os.system ls\n",
        "unhashable-key": SPEC_HEAD + "? [a, b]\n: 1\n",
        "int-keys": SPEC_HEAD + "training: {1: 2, null: 3, true: 4}\n",
        "dup-keys": SPEC_HEAD + "task: chat\n",
        "merge-key": SPEC_HEAD + "base: &b {epochs: 1}\ntraining: {<<: *b}\n",
        "alias-bomb": alias_bomb(),
        "alias-bomb-small": "task: sql\n" + alias_bomb(4, 4),
        "bom": "\ufeff" + SPEC_HEAD,
        "crlf": SPEC_HEAD.replace("\n", "\r\n"),
        "tabs": "task:\tsql\n\tbase_model: x\n",
        "unterminated-quote": 'task: "sql\n',
        "leading-whitespace": " " * (1 << 20) + SPEC_HEAD,
        "huge-string": SPEC_HEAD + "name: " + "x" * (2 << 20) + "\n",
        "many-keys": SPEC_HEAD + "axolotl:\n" + "".join(f"  k{i}: {i}\n" for i in range(20000)),
        "name-newline": SPEC_HEAD + 'name: "sql\\n"\n',
        "name-injection": SPEC_HEAD + 'name: "x\\n#SBATCH --wrap=id"\n',
        "output-dir-injection": SPEC_HEAD + 'output_dir: "out\\n```\\n# pwned"\n',
        "hub-injection": SPEC_HEAD + 'export: {hub: {adapter: "org/x\\n| a |"}}\n',
        "judge-http": SPEC_HEAD + "eval: {holdout: 0.1, judge: {endpoint: 'http://evil.example/v1', model: m}}\n",
    }
    out = {name: text.encode("utf-8", "surrogatepass") for name, text in cases.items()}
    out["invalid-utf8"] = b"task: sql\nbase_model: \xff\xfe\n"
    out["utf16"] = SPEC_HEAD.encode("utf-16")
    out["binary"] = bytes(range(256)) * 4
    return out


def malformed_data() -> dict[str, bytes]:
    """name.suffix -> bytes of a data file, one per class of malformed rows."""
    row = '{"question": "q", "context": "c", "answer": "a"}'
    cases: dict[str, bytes] = {
        "empty.jsonl": b"",
        "blank-lines.jsonl": b"\n\n\n",
        "array-no-close.json": ("[" + row + "," + row).encode(),
        "array-empty-open.json": b"[",
        "array-garbage.json": b"[}{]",
        "leading-whitespace.json": b" " * (1 << 20) + ("[" + row + "]").encode(),
        "leading-whitespace.jsonl": b" " * (1 << 20) + row.encode() + b"\n",
        "not-rows.jsonl": b'1\n"s"\nnull\n[1,2]\n',
        "deep.jsonl": b"[" * 100000 + b"]" * 100000 + b"\n",
        "deep.json": b"[" + b"[" * 100000 + b"]" * 100000 + b"]",
        "big-int.jsonl": b'{"question": ' + b"9" * 5000 + b', "context": "c", "answer": "a"}\n',
        "nan.jsonl": b'{"question": NaN, "context": Infinity, "answer": "a"}\n',
        "dict-roles.jsonl": b'{"messages": [{"role": {"a": 1}, "content": "x"}, {"role": ["b"], "content": {"c": 1}}]}\n',
        "messages-not-list.jsonl": b'{"messages": {"role": "user"}}\n{"messages": "hi"}\n',
        "huge-line.jsonl": b'{"question": "' + b"q" * (3 << 20) + b'", "context": "c", "answer": "a"}\n',
        "invalid-utf8.jsonl": b'{"question": "\xff", "context": "c", "answer": "a"}\n',
        "surrogate.jsonl": b'{"question": "\\ud800", "context": "\\udfff", "answer": "a"}\n',
        "escape.jsonl": b'{"question": "\\u001b[2J\\u001b]0;x\\u0007", "context": "c", "answer": "::error::x"}\n',
        "csv-big-field.csv": b"question,context,answer\n" + b"q" * (200 << 10) + b",c,a\n",
        "csv-quote-field.csv": b'question,context,answer\n"' + b"q" * (200 << 10) + b'",c,a\n',
        "csv-nul.csv": b"question,context,answer\nq\x00,c,a\n",
        "csv-unterminated.csv": b'question,context,answer\n"q,c,a\n',
        "csv-no-header.csv": b"",
        "csv-dup-header.csv": b"question,question,answer\nq,q,a\n",
        "parquet-garbage.parquet": b"PAR1garbage",
        "bom.jsonl": b"\xef\xbb\xbf" + row.encode() + b"\n",
        "utf16.jsonl": (row + "\n").encode("utf-16"),
    }
    return cases


def make_fifo(path: Path) -> Path:
    if not path.exists():
        os.mkfifo(path)
    return path


def make_symlink_loop(folder: Path) -> Path:
    """A folder holding a symlink to itself (`loop/self -> .`) and a two-link cycle."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in (("self", "."), ("a", "b"), ("b", "a")):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(target)
    (folder / "config.json").write_text("{}")
    return folder


def shuffled(items: list[Any], seed: int) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
