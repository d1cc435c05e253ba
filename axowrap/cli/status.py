"""`axowrap status`: what ran in a run directory, what is left, where the outputs are."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("status")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def command(run_dir: Path, as_json: bool) -> None:
    """Show each step of RUN: status, when it ran, its outputs, and the error if it failed.

    \b
      axowrap status runs/sql-3f2a9c1d
      axowrap status runs/sql-3f2a9c1d --json | jq '.steps[0].status'
    """
    from axowrap.run.pipeline import run_status
    from axowrap.run.report import tracking_lines
    from axowrap.run.rundir import open_run
    from axowrap.run.state import load_state

    run = open_run(run_dir)
    rows = run_status(run)
    tracking = load_state(run).get("tracking") or {}
    if as_json:
        ok = not any(row["status"] in ("failed", "interrupted", "crashed") for row in rows)
        click.echo(json.dumps({"ok": ok, "run": str(run.root), "steps": rows, "tracking": tracking}, indent=2))
        return
    click.echo(f"run {run_dir}")
    for line in tracking_lines(tracking):
        click.echo(f"  {line}")
    for row in rows:
        when = f"  {row.get('started') or ''} -> {row.get('ended') or ''}" if row.get("started") else ""
        click.echo(f"  {row['step']:<6} {row['status']:<12}{when}")
        for out in row.get("outputs") or []:
            click.echo(f"           output: {out}")
        error = row.get("error")
        if error:
            click.echo(f"           error: {error.get('message')}")
            for line in error.get("tail") or []:
                click.echo(f"             | {line}")
            if error.get("log"):
                click.echo(f"           log: {error['log']}")
