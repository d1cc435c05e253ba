"""In a pipe, tables and lines are laid out without rich (cli/style.PlainConsole): the text must be
exactly what rich prints there, and a command printing plain output must not import rich."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError
from rich.markup import escape as rich_escape

from axowrap.cli import style

REPO = Path(__file__).resolve().parent.parent

# pieces that exercise markup: styles, unknown tags, escapes, links, emoji codes, wide and control characters
PIECES = st.sampled_from(
    ["[bold]", "[/bold]", "[red]", "[/red]", "[/]", "[b]", "[/b]", "[link=x]", "[@click]", "[not a tag",
     "\\[bold]", "\\\\[bold]", "\\", "[", "]", ":", ":smile:", "a:b:c", "é", "日本", "\t", " ", "  ", "x", "42.0",
     "GB per GPU", "-", "[...]", "[x]"]
)  # fmt: skip
CELL = st.lists(PIECES, max_size=6).map("".join)


def rich_print(*objects: Any, markup: bool | None = None) -> str:
    out = io.StringIO()
    con = Console(file=out, highlight=False, soft_wrap=True, no_color=False, color_system="auto")
    assert not con.is_terminal
    con.width = style.PIPE_WIDTH
    shown = [o.to_rich() if isinstance(o, style.PlainTable) else o for o in objects]
    con.print(*shown, markup=markup)
    return out.getvalue()


def plain_print(*objects: Any, markup: bool | None = None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        style.PlainConsole().print(*objects, markup=markup)
    return out.getvalue()


def same(*objects: Any, markup: bool | None = None) -> None:
    try:
        want: str | type[Exception] = rich_print(*objects, markup=markup)
    except MarkupError:
        want = MarkupError
    try:
        got: str | type[Exception] = plain_print(*objects, markup=markup)
    except MarkupError:
        got = MarkupError
    assert got == want


@settings(max_examples=300, deadline=None)
@given(text=CELL, markup=st.sampled_from([None, False]))
@example(text="\\[x[bold]y[/bold] \\[z", markup=None)
@example(text="[red]a[bold]b[/red]c[/]", markup=None)
def test_plain_lines_are_what_rich_prints(text: str, markup: bool | None) -> None:
    same(text, markup=markup)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(CELL, min_size=1, max_size=4),
    rows=st.lists(st.lists(CELL, max_size=4), max_size=4),
    title=st.one_of(st.none(), CELL),
)
def test_plain_tables_are_what_rich_prints(headers: list[str], rows: list[list[str]], title: str | None) -> None:
    table = style.PlainTable(headers, title)
    for row in rows:
        table.add_row(*row)
    try:
        same(table)
    except Exception as exc:  # rich refuses rows longer than the headers the same way: not ours to judge
        if not any(len(r) > len(headers) for r in rows):
            raise exc


def test_a_plan_like_table_is_laid_out_without_rich() -> None:
    table = style.PlainTable(["component", "GB per GPU"], "memory")
    table.add_row("weights", "61.06")
    table.add_row("[bold]total[/bold]", "[bold]63.48[/bold] (range 62.6-64.4)")
    assert table.lines() == [
        "memory",
        "component  GB per GPU             ",
        "weights    61.06                  ",
        "total      63.48 (range 62.6-64.4)",
    ]
    same(table)


@settings(max_examples=300, deadline=None)
@given(text=CELL)
def test_escape_is_riches(text: str) -> None:
    assert style.escape(text) == rich_escape(text)


def test_plan_in_a_pipe_never_imports_rich() -> None:
    code = (
        "import sys; from axowrap.cli.main import main\n"
        "try: main(['plan', 'examples/sql.yaml', '--no-data'])\n"
        "except SystemExit: pass\n"
        "print('rich' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert "memory" in out.stdout
    assert out.stderr.strip().splitlines()[-1] == "False"


def test_verbose_configures_the_child_commands_logger() -> None:
    from axowrap.run.child import LOG

    assert LOG is __import__("logging").getLogger(style.CHILD_LOGGER)


def test_data_check_shows_file_names_and_excerpts_as_written(tmp_path: Path) -> None:
    """A file name or a row with `[bold]` in it is the user's text, not markup (rich ate it)."""
    from helpers import run_cli

    rows = tmp_path / "d[bold].jsonl"
    row = '{"instruction": "[red]hi[/red]", "input": "", "output": ""}\n'
    rows.write_text(row * 2, encoding="utf-8")  # an empty output and a duplicate: findings with excerpts
    res = run_cli("data", "check", str(rows), "--format", "alpaca", "--no-tokens")
    assert f"{rows}: 2 rows" in res.out, res.out
    assert "[red]hi[/red]" in res.out, res.out
