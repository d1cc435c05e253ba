"""`axowrap run`: a spec -> run directory -> train -> merge -> gguf -> eval -> push (as asked)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def split_steps(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


@click.command("run")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--steps", "steps", default=None, metavar="A,B", help="Only these steps (comma-separated), e.g. train.")
@click.option("--from", "from_step", default=None, metavar="STEP", help="This step and every enabled one after it.")
@click.option("--force", is_flag=True, help="Redo the chosen steps even if they are up to date (no resume).")
@click.option("--dry-run", is_flag=True, help="Print the exact commands and environment changes; run nothing.")
@click.option("--json", "json_events", is_flag=True, help="One JSON event per line on stdout (for CI and scripts).")
@click.option(
    "--locked", is_flag=True, help="Refuse to start when anything drifted from axowrap.lock (see `axowrap lock`)."
)
@click.option(
    "--target",
    "target_name",
    default=None,
    metavar="NAME[:GPUS]",
    help="Render and run for this machine class instead of the spec's compute.target (e.g. cpu for a try here).",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="A quick try: train on the first N rows of each dataset (before the held-out split).",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where run directories go.",
)
def command(
    spec: Path,
    steps: str | None,
    from_step: str | None,
    force: bool,
    dry_run: bool,
    json_events: bool,
    runs_dir: Path,
    locked: bool = False,
    max_rows: int | None = None,
    target_name: str | None = None,
) -> None:
    """Validate SPEC, then run its pipeline in runs/<name>-<hash>/, resuming what was cut short.

    A step whose inputs did not change is skipped; a changed spec re-runs what it changes
    and what depends on it. Ctrl-C stops cleanly (exit 130); run again to resume.

    \b
      axowrap run specs/sql.yaml                 # every step the spec asks for
      axowrap run specs/sql.yaml --steps train   # only training
      axowrap run specs/sql.yaml --dry-run       # show the commands, run nothing
      axowrap run specs/sql.yaml --max-rows 200  # a quick try on the first 200 rows
      axowrap status runs/sql-3f2a9c1d           # what ran, what is left
    """
    from axowrap.cli.output import finished, run_events
    from axowrap.run.pipeline import run_spec

    if locked:  # before anything is prepared: a drifted run must not start
        from axowrap.team.lock import require_locked

        require_locked(spec)
    events = run_events(json_events)
    run, _ = run_spec(
        spec,
        runs_root=runs_dir,
        max_rows=max_rows,
        target=target_name,
        names=split_steps(steps),
        from_step=from_step,
        force=force,
        dry_run=dry_run,
        events=events,
    )
    finished(events, run.root, dry_run)
    if not json_events:
        click.echo(f"run directory: {run.root}", err=not sys.stdout.isatty())
