"""YAML in and out: documents that remember where each key was, and atomic writes."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (`2e-5` is a number)."""


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


def parse_yaml(text: str, file: str, *, yaml12_floats: bool = True) -> Document:
    """Parse YAML text; a syntax error becomes a SpecError naming file, line and column."""
    loader_cls = SpecLoader if yaml12_floats else yaml.SafeLoader
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        problem = Problem(
            path=(),
            message=f"YAML syntax error: {what}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="check indentation and quoting there (quote values containing ': ' or ' #')",
        )
        raise ValidationFailed([problem]) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{file}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    doc = Document(data=data, file=file, text=text)
    if node is not None:
        _walk(node, (), doc)
    return doc


def read_text(path: Path, what: str = "file") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, expected a YAML {what}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None


def load_yaml(path: Path, *, yaml12_floats: bool = True, what: str = "file") -> Document:
    return parse_yaml(read_text(path, what), str(path), yaml12_floats=yaml12_floats)


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write via a temp file in the same folder + os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
