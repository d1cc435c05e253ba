"""Printing problems for people (coloured, one per line) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Iterable

import click

from axowrap.problems import Problem

COLOURS = {"error": "red", "warning": "yellow"}


def print_problems(problems: Iterable[Problem], *, err: bool = True) -> None:
    for p in problems:
        head = f"{p.where}: "
        sev = click.style(f"{p.severity}:", fg=COLOURS.get(p.severity), bold=True)
        from axowrap.problems import format_path

        click.echo(f"{head}{sev} {format_path(p.path)}: {p.message}", err=err)
        if p.hint:
            click.echo(f"    hint: {p.hint}", err=err)
