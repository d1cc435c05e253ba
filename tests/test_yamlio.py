"""yamlio reads YAML with libyaml's parser where it agrees with PyYAML's own, and with PyYAML's
where it does not: data, line marks, duplicate keys and error messages are always what the
pure-Python parser (Axolotl's reader) gives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axowrap import yamlio
from axowrap.errors import SpecError, ValidationFailed
from axowrap.yamlio import Document, PySpecLoader, parse_yaml

REPO = Path(__file__).resolve().parent.parent
TEXTS = [
    p.read_text(encoding="utf-8")
    for pattern in ("examples/**/*.yaml", "tests/golden/*.yaml", "axowrap/presets/*.yaml", "axowrap/*.yaml")
    for p in sorted(REPO.glob(pattern))
]


def pure(text: str, yaml12_floats: bool) -> Any:
    """The reference: PyYAML's pure-Python loader, as parse_yaml used it before libyaml."""
    loader = (PySpecLoader if yaml12_floats else yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return ("error", exc.problem or exc.context, mark.line if mark else None, mark.column if mark else None)
    except yaml.YAMLError as exc:
        return ("error", str(exc))
    finally:
        loader.dispose()
    doc = Document(data=data, file="f.yaml", text=text)
    if node is not None:
        yamlio._walk(node, (), doc)
    return ("ok", repr(doc.data), doc.marks, [p.render() for p in doc.duplicates])


def ours(text: str, yaml12_floats: bool) -> Any:
    try:
        doc = parse_yaml(text, "f.yaml", yaml12_floats=yaml12_floats)
    except ValidationFailed as exc:
        (p,) = exc.problems
        return (
            "error",
            p.message.removeprefix("YAML syntax error: "),
            p.line - 1 if p.line else None,
            p.column - 1 if p.column else None,
        )
    except SpecError as exc:
        return ("error", exc.message.removeprefix("f.yaml: YAML error: "))
    return ("ok", repr(doc.data), doc.marks, [p.render() for p in doc.duplicates])


@pytest.mark.parametrize(
    "text",
    [
        "a:\tb\n",  # libyaml takes a tab as a separator; PyYAML refuses it
        "a: {b: c, d?e: f}\n",  # `?` inside a flow scalar: libyaml takes it
        "a: 1\n\ufeffb: 2\n",  # a BOM mid-file
        "%YAML 1.3\n---\na: 1\n",  # PyYAML warns and reads on; libyaml refuses
        "a: {merge:, true}\n",  # PyYAML reads it; libyaml refuses
        "task: sql\nbase_model: [org/model\n",  # both refuse, in different words
        "a: *nope\n",
        "a: b\na: c\nx: {y: 1, y: 1}\n",  # duplicate keys, found on the nodes
    ],
)
@pytest.mark.parametrize("yaml12_floats", [True, False])
def test_where_the_parsers_differ_the_answer_is_pyyamls(text: str, yaml12_floats: bool) -> None:
    assert ours(text, yaml12_floats) == pure(text, yaml12_floats)


def test_the_c_parser_is_used_where_it_agrees() -> None:
    if yamlio._FAST is None and not os.environ.get("CI"):  # CI's PyYAML wheel has libyaml: there it must hold
        pytest.skip("this PyYAML was built without libyaml")  # every read then takes PyYAML's own path
    assert yamlio._loaders("a: 1\n", True)[0] is yamlio._CSpecLoader
    assert yamlio._loaders("a:\tb\n", True) == [PySpecLoader]


MUTATIONS = list(":-[]{},#&*!|>'\"@`?% \n\t") + [
    "\ufeff",
    "\r\n",
    "é",
    "  ",
    "\n  ",
    "- ",
    ": ",
    "<<",
    "...",
    "---",
    "0x1",
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.sampled_from(TEXTS),
    edits=st.lists(
        st.tuples(st.integers(0, 100_000), st.sampled_from(MUTATIONS), st.booleans()), min_size=1, max_size=3
    ),
    yaml12_floats=st.booleans(),
)
def test_mutated_files_read_exactly_as_pyyaml_reads_them(
    text: str, edits: list[tuple[int, str, bool]], yaml12_floats: bool
) -> None:
    for at, piece, delete in edits:
        at %= len(text) + 1
        text = text[:at] + text[at + 1 :] if delete else text[:at] + piece + text[at:]
    assert ours(text, yaml12_floats) == pure(text, yaml12_floats)
