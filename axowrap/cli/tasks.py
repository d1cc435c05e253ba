"""`axowrap tasks`: the task presets, one line each."""

from __future__ import annotations

import click


@click.command("tasks")
def command() -> None:
    """List the task presets `axowrap new --task` accepts.

    \b
      axowrap tasks
    """
    from axowrap.spec.presets import get_preset, preset_names

    width = max(len(n) for n in preset_names())
    for name in preset_names():
        preset = get_preset(name)
        fmt = preset.dataset.get("format", "")
        click.echo(f"{name:<{width}}  {fmt:<10}  {preset.summary}")
