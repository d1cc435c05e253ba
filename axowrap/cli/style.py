"""How the command line speaks: colour, `--quiet`, `--verbose`, and tables.

Colour: `--color`/`--no-color`, else `NO_COLOR` (any non-empty value: none, https://no-color.org),
else colour on a terminal and none in a pipe. Click's own output follows `ctx.color`; rich
consoles come from `console()`; the error lines main.py prints use `color_from_argv`.
`--quiet`: only errors and results (`note` lines, run events and child output are dropped).
`--verbose`: also each child process's command line, and every line a child prints (no noise
filter). These options are accepted before the command and after it (`axowrap run X -q`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

PIPE_WIDTH = 10_000
CHILD_LOGGER = "axowrap.child"  # run.child.LOG (not imported: it brings subprocess to every command)


@dataclass
class Settings:
    color: bool | None = None  # None: a terminal decides
    quiet: bool = False
    verbose: bool = False


def resolve_color(flag: bool | None) -> bool | None:
    """The colour choice: the flag when given, else off when NO_COLOR is set, else automatic."""
    if flag is not None:
        return flag
    return False if os.environ.get("NO_COLOR") else None


def color_from_argv(argv: Sequence[str]) -> bool | None:
    """The colour choice of a command line, for the lines printed after click has finished."""
    args = list(argv[: list(argv).index("--")] if "--" in argv else argv)
    flag = True if "--color" in args else None
    if "--no-color" in args:
        flag = False
    return resolve_color(flag)


def settings() -> Settings:
    """This invocation's settings (defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Settings(color=resolve_color(None))
    obj = ctx.find_root().obj
    found = obj.get("settings") if isinstance(obj, dict) else None
    return found if isinstance(found, Settings) else Settings(color=resolve_color(None))


def _set(ctx: click.Context, name: str, value: Any) -> None:
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    current = root.obj.setdefault("settings", Settings(color=resolve_color(None)))
    setattr(current, name, value)
    if name == "color":
        ctx.color = root.color = current.color
    _configure_logging(current)


def _color(ctx: click.Context, _param: click.Parameter, value: bool | None) -> None:
    if value is not None or ctx.parent is None:
        _set(ctx, "color", resolve_color(value))


def _flag(name: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value or ctx.parent is None:
            _set(ctx, name, value)

    return callback


def global_options() -> list[click.Option]:
    """--color/--no-color, --quiet, --verbose: for the group and for every command."""
    return [
        click.Option(
            ["--color/--no-color"],
            default=None,
            expose_value=False,
            is_eager=True,
            callback=_color,
            help="Colour on or off (default: on a terminal, off when NO_COLOR is set).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_flag("quiet"),
            help="Print only errors and results.",
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_flag("verbose"),
            help="Also print child commands and all of their output.",
        ),
    ]


def _configure_logging(current: Settings) -> None:
    """--verbose: child commands on stderr. Otherwise known-harmless library warnings are
    dropped from the terminal (axowrap.noise)."""
    from axowrap.noise import install_log_filters, remove_log_filters

    logger = logging.getLogger(CHILD_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, "axowrap", False)]:
        logger.removeHandler(handler)
    logger.propagate = False  # shown only with --verbose, whatever a library does to the root logger
    if current.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("+ %(message)s"))
        handler.axowrap = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        remove_log_filters()
    else:
        install_log_filters()


def note(message: str) -> None:
    """A line about what was done (`wrote X`), on stderr; --quiet drops it."""
    if not settings().quiet:
        click.echo(message, err=True)


def console(*, stderr: bool = False) -> Any:
    """A rich console that follows the colour choice (plain text in a pipe).

    In a pipe or a file (where rich would not see a terminal) this is a `PlainConsole`: the
    same text, laid out as rich lays it out there, without importing rich (~70 ms of a
    command's start); it hands anything it cannot lay out exactly to rich."""
    color = settings().color
    if not color and _not_a_terminal(sys.stderr if stderr else sys.stdout):
        return PlainConsole(stderr=stderr)
    return _rich_console(stderr=stderr, color=color)


def _rich_console(*, stderr: bool, color: bool | None) -> Any:
    from rich.console import Console

    con = Console(
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
        no_color=color is False,
        force_terminal=True if color else None,
        color_system=None if color is False else "auto",
    )
    if not con.is_terminal:  # a pipe or a file: whole lines, never cut to 80 columns
        con.width = PIPE_WIDTH
    return con


def _not_a_terminal(stream: Any) -> bool:
    """Whether rich would see no terminal here for sure (its environment switches decide
    otherwise, so with any of them set rich is asked)."""
    if any(os.environ.get(k) is not None for k in ("TTY_COMPATIBLE", "FORCE_COLOR", "TTY_INTERACTIVE")):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def table(con: Any, *headers: str, title: str | None = None) -> Any:
    """A rich table: boxed on a terminal, plain aligned columns otherwise."""
    if isinstance(con, PlainConsole):
        return PlainTable(headers, title)
    from rich.table import Table

    if con.is_terminal:
        return Table(*headers, title=title)
    return Table(*headers, title=title, box=None, show_edge=False, pad_edge=False, title_justify="left")


# --- plain text without rich: pipes and files ---------------------------------------------------

_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")  # rich.markup's RE_TAGS
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")  # what rich.markup.escape escapes
_EMOJI = re.compile(r":\S*?:")  # where rich might put an emoji (:name:)
STYLES = frozenset("bold dim italic underline reverse strike red green yellow blue magenta cyan white black".split())


def escape(text: str) -> str:
    """rich.markup.escape without importing rich: `text` shown as written, never as markup."""

    def double(match: re.Match[str]) -> str:
        backslashes, tag = match.groups()
        return f"{backslashes}{backslashes}\\{tag}"

    text = _ESCAPE.sub(double, text)
    return text + "\\" if text.endswith("\\") and not text.endswith("\\\\") else text


def plain_text(markup: str) -> str | None:
    """The text rich prints for `markup` without colour, or None where that takes rich itself
    (tags other than plain styles, emoji codes, characters other than printable ASCII)."""
    if not _plain_chars(markup):
        return None
    if "[" not in markup:
        return markup
    out: list[str] = []
    opened: list[str] = []
    position = 0
    for match in _TAG.finditer(markup):
        full, escapes, tag = match.groups()
        start, end = match.span()
        if start > position:
            out.append(markup[position:start].replace("\\[", "["))
        position = end
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            out.append("\\" * backslashes)
            if escaped:
                out.append(full[len(escapes) :])
                continue
        name = tag.removeprefix("/")
        if name not in STYLES and not (tag == "/" and opened):
            return None
        if tag.startswith("/"):
            if tag == "/":
                opened.pop()
            elif name in opened:
                del opened[len(opened) - 1 - opened[::-1].index(name)]
            else:
                return None  # rich raises MarkupError: let it
        else:
            opened.append(name)
    if position < len(markup):
        out.append(markup[position:].replace("\\[", "["))
    return "".join(out)


def _plain_chars(text: str) -> bool:
    """Printable ASCII without emoji codes: what rich prints as it is (in a pipe, without markup)."""
    return text.isascii() and text.isprintable() and not _EMOJI.search(text)


class PlainTable:
    """`table()` in a pipe: rich's borderless layout (columns two spaces apart, each as wide as
    its widest cell, the title on its own line), or rich's own when only rich can lay it out."""

    def __init__(self, headers: Sequence[str], title: str | None) -> None:
        self.headers = list(headers)
        self.title = title
        self.rows: list[tuple[Any, ...]] = []

    def add_row(self, *cells: Any) -> None:
        self.rows.append(cells)

    def lines(self) -> list[str] | None:
        """The lines rich would print, or None."""
        if not self.headers or any(len(r) > len(self.headers) for r in self.rows):
            return None
        grid = [self.headers, *([*r, *[""] * (len(self.headers) - len(r))] for r in self.rows)]
        found = [[plain_text(c) if isinstance(c, str) else "" if c is None else None for c in row] for row in grid]
        texts = [[t for t in row if t is not None] for row in found]
        if any(len(row) != len(self.headers) for row in texts):
            return None
        widths = [max(len(row[i]) for row in texts) for i in range(len(self.headers))]
        width = sum(widths) + 2 * (len(widths) - 1)
        title = None if self.title is None else plain_text(self.title)
        if self.title is not None and (not title or len(title) > width) or width > PIPE_WIDTH or not all(widths):
            return None
        body = ["  ".join(t.ljust(w) for t, w in zip(row, widths, strict=True)) for row in texts]
        return [title, *body] if title else body

    def to_rich(self) -> Any:
        from rich.table import Table

        found = Table(*self.headers, title=self.title, box=None, show_edge=False, pad_edge=False, title_justify="left")
        for row in self.rows:
            found.add_row(*row)
        return found


class PlainConsole:
    """`console()` in a pipe: prints what rich would print there (no colour, whole lines)."""

    is_terminal = False

    def __init__(self, *, stderr: bool = False) -> None:
        self.stderr = stderr
        self._rich: Any = None

    def print(self, *objects: Any, markup: bool | None = None) -> None:
        lines: list[str] | None = None
        if not objects:
            lines = [""]
        elif len(objects) == 1 and isinstance(objects[0], PlainTable):
            lines = objects[0].lines()
        elif len(objects) == 1 and isinstance(objects[0], str):
            text = objects[0]
            shown = plain_text(text) if markup is not False else text if _plain_chars(text) else None
            lines = None if shown is None else [shown]
        if lines is None:
            self._print_rich(objects, markup)
            return
        stream = sys.stderr if self.stderr else sys.stdout
        stream.write("".join(line + "\n" for line in lines))
        stream.flush()

    def _print_rich(self, objects: tuple[Any, ...], markup: bool | None) -> None:
        if self._rich is None:
            self._rich = _rich_console(stderr=self.stderr, color=settings().color)
        shown = [o.to_rich() if isinstance(o, PlainTable) else o for o in objects]
        self._rich.print(*shown, markup=markup)
