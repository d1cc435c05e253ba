"""Printing problems for people (coloured, one per line) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from axowrap.problems import Problem

if TYPE_CHECKING:
    from axowrap.run.events import Events

COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def print_problems(problems: Iterable[Problem], *, err: bool = True) -> None:
    for p in problems:
        label = f"{p.severity}:"
        coloured = click.style(label, fg=COLOURS.get(p.severity), bold=True)
        click.echo(p.render().replace(f" {label} ", f" {coloured} ", 1), err=err)


def run_events(as_json: bool) -> Events:
    """Where a run command's events go: JSON lines on stdout with --json, else plain lines
    (a progress bar when stdout is a terminal)."""
    import sys

    from axowrap.run.events import Events

    return Events(click.echo, json_lines=as_json, tty=sys.stdout.isatty())


def finished(events: Events, run: object, dry_run: bool, **fields: Any) -> None:
    """The last event of a run command (--json only)."""
    if events.json_lines:
        events.emit(None, "finished", run=str(run), dry_run=dry_run, **fields)
