r"""Emit values into Markdown (model cards, serving READMEs) so they cannot change the document.

A value from a spec, a config or a file name is text, never Markdown: `text` backslash-escapes
every character that can open inline markup (emphasis, code, links, images, HTML, entities,
strikethrough, table pipes; an underscore unless it sits inside a word, where CommonMark never
reads it as emphasis) and breaks GFM's bare-URL autolinks (`https\://`, `www\.`); values are
never put at the start of a line, where `#`, `-` or `1.` would matter. `cell` does that for a
table cell,
`code` makes a code span whose backtick fence is longer than any run of backticks in the
value, and `fence` gives a code-block fence no line of the block can close. Control characters
and line breaks are written as escapes first (axowrap.problems.printable): a value stays on
its one line, so it can never start a block of its own.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from axowrap.problems import printable

_MARKUP = re.compile(r"[\\`*\[\]<>!|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|:(?=//)|(?<=www)\.")
_BACKTICKS = re.compile(r"`+")


def _one_line(value: Any) -> str:
    return printable(value if isinstance(value, str) else str(value))


def text(value: Any) -> str:
    """`value` as literal inline text."""
    return _MARKUP.sub(lambda m: "\\" + m.group(), _one_line(value))


def cell(value: Any) -> str:
    """`value` as the literal text of one table cell."""
    return text(value)


def code(value: Any, *, in_table: bool = False) -> str:
    """`value` as a code span (shown verbatim, monospaced); `in_table` escapes `|`, which GFM
    tables split cells on even inside code spans."""
    body = _one_line(value)
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or (body.strip(" ") == "" and body):
        body = f" {body} "
    if in_table:
        body = body.replace("|", "\\|")
    return f"{ticks}{body}{ticks}" if body else "` `"


def fence(block: str) -> str:
    """A backtick fence for a code block holding `block`: longer than any backtick run in it."""
    longest = max((len(m) for m in _BACKTICKS.findall(block)), default=0)
    return "`" * max(3, longest + 1)


def link_target(value: Any) -> str:
    """A link destination: everything but unreserved path characters percent-encoded."""
    return quote(_one_line(value), safe="/._-~")
