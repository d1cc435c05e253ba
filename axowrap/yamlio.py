"""YAML in: documents that remember where each key was, read within bounds (depth, size after
aliases, 64-bit integers, finite floats); `atomic_write` (axowrap.files) for writing."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from axowrap import files
from axowrap.errors import SpecError, ValidationFailed
from axowrap.problems import Path_, Problem

# YAML 1.1 (PyYAML) reads `2e-5` as a string because its float pattern needs a dot.
# Specs use YAML 1.2 numbers instead, so `learning_rate: 2e-5` is the number it looks like.
_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
FLOAT_LOOKING = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+\Z")


MAX_DEPTH = 64  # nesting levels of a YAML document
MAX_NODES = 100_000  # values in a document with every alias expanded (a real spec has < 1,000)
INT_LIMIT = 2**63  # integers must fit in 64 bits: Axolotl, torch and JSON readers assume it


class _Bounded(yaml.SafeLoader):
    """SafeLoader with bounds: nesting depth, values after alias expansion (a 1 KB 'billion
    laughs' document is refused while composing, before anything is expanded), 64-bit
    integers, finite floats, and strings a UTF-8 file can hold (no lone surrogates)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self.limit_problems: list[tuple[yaml.Mark | None, str, str]] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes.get(id(item), 1) for item in node.value)
        else:
            return node
        self._sizes[id(node)] = size
        if size > MAX_NODES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"more than {MAX_NODES:,} values once its aliases (*name) are expanded",
                node.start_mark,
            )
        return node

    def _limit(self, node: yaml.Node, message: str, hint: str) -> None:
        self.limit_problems.append((node.start_mark, message, hint))

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            value = super().construct_yaml_int(node)
        except ValueError:
            self._limit(node, f"integer of {len(node.value):,} digits is too large", "write a 64-bit integer")
            return 0
        if not -INT_LIMIT <= value < INT_LIMIT:
            self._limit(node, f"integer {str(node.value)[:30]}... does not fit in 64 bits", "write a smaller number")
            return 0
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            self._limit(
                node,
                f"{str(node.value)[:30]} is not a finite number",
                "write a finite number (NaN and infinity make training produce NaN or fail)",
            )
            return 0.0
        return value

    def construct_yaml_str(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_str(node)
        if _SURROGATE.search(value):
            self._limit(
                node,
                f"text {value.encode('utf-8', 'backslashreplace').decode('ascii', 'backslashreplace')[:40]!s} "
                "holds a lone surrogate (\\ud800-\\udfff), which no UTF-8 file can hold",
                "write the character itself, or a valid pair of \\u escapes",
            )
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")
_Bounded.add_constructor("tag:yaml.org,2002:int", _Bounded.construct_yaml_int)
_Bounded.add_constructor("tag:yaml.org,2002:float", _Bounded.construct_yaml_float)
_Bounded.add_constructor("tag:yaml.org,2002:str", _Bounded.construct_yaml_str)


class ConfigLoader(_Bounded):
    """YAML 1.1 as Axolotl reads it (PyYAML's SafeLoader), with axowrap's bounds."""


class SpecLoader(_Bounded):
    """YAML 1.2 floats (`2e-5` is a number), with axowrap's bounds."""


SpecLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _ch in "-+0123456789.":
    SpecLoader.yaml_implicit_resolvers[_ch] = [
        (tag, rx) for tag, rx in SpecLoader.yaml_implicit_resolvers.get(_ch, []) if tag != "tag:yaml.org,2002:float"
    ]
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


@dataclass
class Document:
    """A parsed YAML mapping plus the line/column of every key path in it."""

    data: Any
    file: str
    text: str = ""
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[Problem] = field(default_factory=list)

    def mark(self, path: Path_) -> tuple[int | None, int | None]:
        """The nearest known (line, column) for `path`, walking up to its parents."""
        path = tuple(path)
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), (None, None))

    def problem(self, path: Path_, message: str, **kw: Any) -> Problem:
        line, col = self.mark(path)
        return Problem(path=tuple(path), message=message, file=self.file, line=line, column=col, **kw)


def _same(a: yaml.Node, b: yaml.Node) -> bool:
    if type(a) is not type(b) or a.tag != b.tag:
        return False
    if isinstance(a, yaml.ScalarNode):
        return bool(a.value == b.value)
    if len(a.value) != len(b.value):
        return False
    if isinstance(a, yaml.MappingNode):
        return all(_same(ka, kb) and _same(va, vb) for (ka, va), (kb, vb) in zip(a.value, b.value, strict=True))
    return all(_same(x, y) for x, y in zip(a.value, b.value, strict=True))


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


def _walk(node: yaml.Node, path: Path_, doc: Document) -> None:
    doc.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, tuple[int, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                line, first = seen[key]
                same = _same(first, value_node)
                what = "the same value" if same else f"{_shown(first)}; this later {_shown(value_node)} wins"
                doc.duplicates.append(
                    Problem(
                        path=(*path, key),
                        message=f"duplicate key (first defined on line {line} with {what}); "
                        "YAML silently keeps only the last one",
                        file=doc.file,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        hint="remove one of the two",
                        extra={"same": same},
                    )
                )
            else:
                seen[key] = (key_node.start_mark.line + 1, value_node)
            doc.marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow (control characters, NUL): where it is, by line and column."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return Problem(
        path=(),
        message=f"character U+{char:04X} is not allowed in YAML (control characters are not text)",
        file=file,
        line=line,
        column=column,
        hint='remove it; write it as an escape inside double quotes ("\\x01") if it is meant',
    )


def parse_yaml(text: str, file: str, *, yaml12_floats: bool = True) -> Document:
    """Parse YAML text; a syntax error, a character YAML does not allow, or a value over
    axowrap's bounds (nesting depth, expanded size, 64-bit integers, finite floats) becomes
    ValidationFailed naming file, line and column."""
    loader = None
    try:
        loader = (SpecLoader if yaml12_floats else ConfigLoader)(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise ValidationFailed([_reader_problem(exc, text, file)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        bound = "nested deeper" in what or "aliases" in what
        problem = Problem(
            path=(),
            message=f"YAML {'too large' if bound else 'syntax error'}: {what}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="is this the right file? axowrap reads specs and configs of ordinary size"
            if bound
            else "check indentation and quoting there (quote values containing ': ' or ' #')",
        )
        raise ValidationFailed([problem]) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}: YAML error: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.limit_problems:
        raise ValidationFailed(
            Problem(
                path=(),
                message=message,
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                hint=hint,
            )
            for mark, message, hint in loader.limit_problems
        )
    doc = Document(data=data, file=file, text=text)
    if node is not None:
        _walk(node, (), doc)
    return doc


def read_text(path: Path, what: str = "file") -> str:
    """A YAML file's text: a regular file, UTF-8, at most files.MAX_TEXT_BYTES (SpecError otherwise)."""
    return files.read_text(path, what)


def load_yaml(path: Path, *, yaml12_floats: bool = True, what: str = "file") -> Document:
    return parse_yaml(read_text(path, what), str(path), yaml12_floats=yaml12_floats)


atomic_write = files.atomic_write  # where it always was; written in axowrap.files
