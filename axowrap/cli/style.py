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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

PIPE_WIDTH = 10_000


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
    from axowrap.run.child import LOG as logger

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
    """A rich console that follows the colour choice (plain text in a pipe)."""
    from rich.console import Console

    color = settings().color
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


def table(con: Any, *headers: str, title: str | None = None) -> Any:
    """A rich table: boxed on a terminal, plain aligned columns otherwise."""
    from rich.table import Table

    if con.is_terminal:
        return Table(*headers, title=title)
    return Table(*headers, title=title, box=None, show_edge=False, pad_edge=False, title_justify="left")
