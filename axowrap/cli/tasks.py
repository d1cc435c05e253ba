"""`axowrap tasks`: the task presets, one line each."""

from __future__ import annotations

import click

from axowrap.cli.options import json_option


@click.command("tasks")
@json_option
def command(as_json: bool) -> None:
    """List the task presets `axowrap new --task` accepts.

    \b
      axowrap tasks
      axowrap tasks --json | jq -r '.tasks[].name'
    """
    from axowrap.spec.presets import get_preset, preset_names

    rows = [(name, get_preset(name).dataset.get("format", ""), get_preset(name).summary) for name in preset_names()]
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, tasks=[{"name": n, "format": f, "summary": s} for n, f, s in rows])
        return
    width = max(len(n) for n, _, _ in rows)
    for name, fmt, summary in rows:
        click.echo(f"{name:<{width}}  {fmt:<10}  {summary}")
