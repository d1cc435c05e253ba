"""`axowrap push RUN`: upload a run's adapter / merged model / GGUF files to the Hub."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import json_lines_option


@click.command("push")
@click.argument(
    "run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path), shell_complete=complete.runs
)
@click.option("--endpoint", metavar="URL", help="Hub endpoint (default: HF_ENDPOINT, else https://huggingface.co).")
@click.option("--force", is_flag=True, help="Compare with the Hub again even if the last push is up to date.")
@click.option("--dry-run", is_flag=True, help="List every repo, file and size, and the rendered cards; upload nothing.")
@click.option(
    "--allow-failed-audit",
    is_flag=True,
    help="Push although the stop audit failed; every model card then says so and lists the failures.",
)
@json_lines_option
@click.option(
    "--no-gate",
    is_flag=True,
    help="Push without an eval gate that passed on the current training (default: refuse).",
)
def command(
    run_dir: Path,
    endpoint: str | None,
    force: bool,
    dry_run: bool,
    allow_failed_audit: bool,
    json_events: bool,
    no_gate: bool,
) -> None:
    """Push RUN's artifacts to the Hub repos named in the spec's `export.hub`, with model cards.

    The token comes from HF_TOKEN or `hf auth login`; repos are created private unless
    `export.hub.private: false` (an existing public repo is refused when private is asked).
    Only the outputs that train, merge and gguf recorded for the current spec are sent, and
    only files that differ from the Hub. The eval gate must have passed on the current
    training (`--no-gate` to push anyway), and a failed stop audit (`axowrap audit`) is refused
    (`--allow-failed-audit` to push anyway; every card then says so).

    \b
      axowrap push runs/sql-3f2a9c1d --dry-run
      HF_TOKEN=hf_... axowrap push runs/sql-3f2a9c1d
      axowrap push runs/sql-3f2a9c1d --endpoint https://hub.example.com
    """
    from axowrap.cli.output import finished, run_events
    from axowrap.run.pipeline import run_steps
    from axowrap.run.rundir import open_run

    options: dict[str, object] = {"endpoint": endpoint} if endpoint else {}
    if allow_failed_audit:
        options["allow_failed_audit"] = True
    if no_gate:
        options["no_gate"] = True
    events = run_events(json_events)
    run = open_run(run_dir)
    run_steps(run, ["push"], force=force, dry_run=dry_run, options=options, events=events)
    finished(events, run.root, dry_run)
