"""`axowrap train|merge|gguf RUN`: one step on a run directory, for the registry's steps that
have no command module of their own (`axowrap eval`, `audit` and `push` take more options)."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import json_lines_option

OWN_COMMANDS = ("eval", "audit", "push")  # steps with a module in axowrap/cli/


def step_command(name: str) -> click.Command:
    @click.command(name)
    @click.argument(
        "run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path), shell_complete=complete.runs
    )
    @click.option("--force", is_flag=True, help="Redo the step even if it is up to date.")
    @click.option("--dry-run", is_flag=True, help="Print what would run; run nothing.")
    @json_lines_option
    def command(run_dir: Path, force: bool, dry_run: bool, json_events: bool) -> None:
        from axowrap.cli.output import finished, run_events
        from axowrap.run.pipeline import run_steps
        from axowrap.run.rundir import open_run

        events = run_events(json_events)
        run = open_run(run_dir)
        run_steps(run, [name], force=force, dry_run=dry_run, events=events)
        finished(events, run.root, dry_run)

    command.help = (
        f"Run the {name} step on RUN (a run directory made by `axowrap run`), resuming if it was cut short.\n\n"
        f"\b\n  axowrap {name} runs/sql-3f2a9c1d\n  axowrap {name} runs/sql-3f2a9c1d --dry-run"
    )
    return command


def step_commands() -> dict[str, click.Command]:
    """`axowrap STEP RUN` for every registered step without a command module of its own."""
    from axowrap.steps.registry import STEP_NAMES

    return {name: step_command(name) for name in STEP_NAMES if name not in OWN_COMMANDS}
