"""`axowrap train|merge|gguf|eval|push RUN`: one step on a run directory.

Generated for every step that has a step module but no CLI module of its own
(`axowrap/cli/<name>.py`), so a new step gets its subcommand without touching this file.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import click

from axowrap.steps import STEP_NAMES


def step_command(name: str) -> click.Command:
    @click.command(name)
    @click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Redo the step even if it is up to date.")
    @click.option("--dry-run", is_flag=True, help="Print what would run; run nothing.")
    @click.option("--json", "json_events", is_flag=True, help="One JSON event per line on stdout.")
    def command(run_dir: Path, force: bool, dry_run: bool, json_events: bool) -> None:
        from axowrap.pipeline import open_run, run_steps

        run_steps(open_run(run_dir), [name], force=force, dry_run=dry_run, echo=click.echo, json_events=json_events)
        if json_events:
            click.echo(json.dumps({"event": "finished", "run": str(run_dir), "dry_run": dry_run}))

    command.help = (
        f"Run the {name} step on RUN (a run directory made by `axowrap run`), resuming if it was cut short.\n\n"
        f"\b\n  axowrap {name} runs/sql-3f2a9c1d\n  axowrap {name} runs/sql-3f2a9c1d --dry-run"
    )
    return command


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


commands = [
    step_command(name) for name in STEP_NAMES if _has(f"axowrap.steps.{name}") and not _has(f"axowrap.cli.{name}")
]
