"""Printing problems for people (coloured, one per line) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Iterable

import click

from axowrap.problems import Problem

COLOURS = {"error": "red", "warning": "yellow"}


def print_problems(problems: Iterable[Problem], *, err: bool = True) -> None:
    for p in problems:
        label = f"{p.severity}:"
        coloured = click.style(label, fg=COLOURS.get(p.severity), bold=True)
        click.echo(p.render().replace(f" {label} ", f" {coloured} ", 1), err=err)
