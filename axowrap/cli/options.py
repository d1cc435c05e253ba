"""Options several commands share, defined once: `--set`, `--json`, `-o` (`-` is stdout),
`--target` and `--runs-dir` (with their environment variables), with shell completion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from axowrap.cli import complete

F = TypeVar("F", bound=Callable[..., Any])

TARGET_ENV = "AXOWRAP_TARGET"
RUNS_DIR_ENV = "AXOWRAP_RUNS_DIR"


def _parse_sets(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[Any, ...]:
    if not values:
        return ()  # nothing to parse: the override machinery (and YAML) is not imported
    from axowrap.spec.overrides import parse_overrides

    return parse_overrides(values)


def set_option(f: F) -> F:
    """`--set KEY=VALUE` (repeatable) -> the `overrides` argument: a tuple of Override."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_parse_sets,
        help="Override a spec value, e.g. training.learning_rate=1e-4 or datasets[0].format=alpaca "
        "(YAML value; repeatable; checked like the spec).",
    )(f)


def axolotl_option(what: str) -> Callable[[F], F]:
    """`--axolotl VERSION` -> `axolotl`: the Axolotl release to check or render for
    (axowrap.releases.choose: default the installed one, else compute.axolotl, else the newest)."""
    return click.option(
        "--axolotl",
        "axolotl",
        default=None,
        metavar="VERSION",
        help=f"{what} this Axolotl release (default: the installed one, else compute.axolotl, else the newest).",
    )


def cache_options(jobs_help: str, cache_help: str) -> Callable[[F], F]:
    """`-j/--jobs N` -> `jobs` (0: as many processes as pay off) and `--no-cache` -> `no_cache`
    (axowrap.checkcache: results are reused by content)."""

    def decorate(f: F) -> F:
        f = click.option("--no-cache", is_flag=True, help=cache_help)(f)
        return click.option("-j", "--jobs", type=click.IntRange(min=0), default=0, show_default=True, help=jobs_help)(f)

    return decorate


def _json(mode: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            from axowrap.cli.envelope import requested

            requested(mode)
        return value

    return callback


def json_option(f: F) -> F:
    """`--json` -> `as_json`: one JSON document {"ok": ..., ...} on stdout (cli/envelope.py)."""
    return click.option(
        "--json", "as_json", is_flag=True, callback=_json("document"), help="Print one JSON document on stdout."
    )(f)


def json_lines_option(f: F) -> F:
    """`--json` -> `json_events` for run commands: one JSON event per line on stdout."""
    return click.option(
        "--json",
        "json_events",
        is_flag=True,
        callback=_json("lines"),
        help="One JSON event per line on stdout (for CI and scripts).",
    )(f)


def output_option(what: str, *, required: bool = False) -> Callable[[F], F]:
    """`-o/--output FILE` -> `output`: a Path, or None for stdout (`-o -` or no -o)."""

    def convert(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
        return None if value is None or str(value) == "-" else value

    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        default=None,
        required=required,
        callback=convert,
        help=f"Write {what} here ('-': stdout)." + ("" if required else " Default: stdout."),
    )


def write_output(output: Path | None, text: str) -> None:
    """`text` to the file (atomically, then `wrote FILE` on stderr) or to stdout."""
    if output is None:
        click.echo(text, nl=False)
        return
    from axowrap.cli.style import note
    from axowrap.yamlio import atomic_write

    atomic_write(output, text)
    note(f"wrote {output}")


def target_option(help: str, *, multiple: bool = False) -> Callable[[F], F]:
    """`--target GPU[:N]` (AXOWRAP_TARGET), completed from axowrap/targets.yaml."""
    return click.option(
        "--target",
        "targets" if multiple else "target",
        multiple=multiple,
        default=None,
        envvar=TARGET_ENV,
        show_envvar=True,
        metavar="GPU[:N]",
        shell_complete=complete.targets,
        help=help,
    )


def runs_dir_option(f: F) -> F:
    """`--runs-dir DIR` (AXOWRAP_RUNS_DIR, default runs/)."""
    return click.option(
        "--runs-dir",
        "runs_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("runs"),
        envvar=RUNS_DIR_ENV,
        show_envvar=True,
        show_default=True,
        help="Where run directories go.",
    )(f)
