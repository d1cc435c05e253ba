"""Change values in a spec file's text, keeping its comments and layout (`sweep promote`).

Each value replaces the text of its YAML node where the key is written, or is added to the
nearest mapping that exists (a new line in a block mapping, a new entry in a flow mapping),
with a comment line above it saying why. Values are emitted with axowrap.yamlemit, so they
cannot change the structure around them, and the result is parsed back: every path must read
back as the value meant, else nothing is returned but an error.
"""

from __future__ import annotations

from typing import Any

import yaml

from axowrap.errors import AxowrapError
from axowrap.problems import Path_, format_path, value_at
from axowrap.yamlemit import to_yaml
from axowrap.yamlio import SpecLoader, parse_yaml

NOTE = "# axowrap:"  # the comment line written above a changed value (`render --explain` shows it)


def _compose(text: str) -> yaml.Node:
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if not isinstance(node, yaml.MappingNode):
        raise AxowrapError("the spec is not a mapping of keys to values: cannot edit it")
    return node


def _nested(path: Path_, value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _note_at(text: str, start: int, note: str) -> str:
    """`text` with the note line put above the line starting at `start` (an older note about
    the same key, right above, is replaced)."""
    key = note.split(" ", 1)[0]
    line = text[start:]
    indent = len(line) - len(line.lstrip(" "))
    above = text[:start].splitlines(keepends=True)
    i = len(above)
    while i > 0 and above[i - 1].strip().startswith(NOTE):
        i -= 1
    notes = [n for n in above[i:] if not n.strip().removeprefix(NOTE).strip().startswith(f"{key} ")]
    return "".join(above[:i] + notes) + f"{' ' * indent}{NOTE} {note}\n" + line


def _insert_line(text: str, at: int, indent: int, line: str, note: str) -> str:
    """Insert `line` (and the note above it) as whole lines at offset `at` (a line start)."""
    pad = " " * indent
    block = f"{pad}{NOTE} {note}\n{pad}{line}\n"
    return text[:at] + block + text[at:]


def _set_one(text: str, path: Path_, value: Any, note: str) -> str:
    node = _compose(text)
    for i, part in enumerate(path):
        if isinstance(part, int):
            if not isinstance(node, yaml.SequenceNode) or part >= len(node.value):
                raise AxowrapError(f"{format_path(path)}: {format_path(path[:i])} has no entry [{part}] in the spec")
            node = node.value[part]
            continue
        if not isinstance(node, yaml.MappingNode):
            raise AxowrapError(f"{format_path(path)}: {format_path(path[:i])} is not a mapping in the spec")
        entry = next(((k, v) for k, v in node.value if k.value == part), None)
        if entry is None:
            rest = to_yaml(_nested(path[i + 1 :], value))
            if node.flow_style:  # `{a: 1}` -> `{key: v, a: 1}`, with the note on the line above
                at = node.start_mark.index + 1
                sep = ", " if node.value else ""
                text = text[:at] + f"{part}: {rest}{sep}" + text[at:]
                return _note_at(text, _line_start(text, node.start_mark.index), note)
            last = node.value[-1][1] if node.value else None
            indent = node.value[0][0].start_mark.column if node.value else 0
            end = last.end_mark.index if last is not None else len(text)
            at = text.find("\n", end)
            at = len(text) if at < 0 else at + 1
            if at == len(text) and not text.endswith("\n"):
                text += "\n"
                at = len(text)
            return _insert_line(text, at, indent, f"{part}: {rest}", note)
        key, child = entry
        if i == len(path) - 1:
            text = text[: child.start_mark.index] + to_yaml(value) + text[child.end_mark.index :]
            return _note_at(text, _line_start(text, key.start_mark.index), note)
        node = child
    raise AxowrapError(f"{format_path(path)}: nothing to set")


def set_values(text: str, values: list[tuple[Path_, Any]], note: str, *, file: str = "<spec>") -> str:
    """`text` with each (path, value) written in, a `# axowrap: NOTE` line above each change."""
    new = text
    for path, value in values:
        new = _set_one(new, path, value, f"{format_path(path)} {note}")
    data = parse_yaml(new, file).data
    wrong = [format_path(p) for p, v in values if value_at(data, p) != (True, v)]
    if wrong:  # never write a file that does not say what was meant
        raise AxowrapError(f"{file}: could not write {', '.join(wrong)} into the spec", hint="edit the spec by hand")
    return new
