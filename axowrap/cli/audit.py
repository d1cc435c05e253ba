"""`axowrap audit RUN`: the stop audit (training rows, merged model, GGUF, Modelfile, generation)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("audit")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--prompts", type=click.IntRange(min=1), default=None, help="Held-out prompts to generate from (default 16)."
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Longest answer allowed to stop (default: twice the longest held-out answer, 32-512).",
)
@click.option("--force", is_flag=True, help="Redo the audit even if it is up to date.")
@click.option("--dry-run", is_flag=True, help="Say what would be checked; check nothing.")
@click.option("--json", "json_events", is_flag=True, help="One JSON event per line on stdout.")
def command(
    run_dir: Path, prompts: int | None, max_tokens: int | None, force: bool, dry_run: bool, json_events: bool
) -> None:
    """Check that RUN's model stops where training taught it to, in every artifact it is served
    from: the end-of-turn token is trained in Axolotl's prepared rows; the merged model's
    generation_config/config/tokenizer, each GGUF's metadata and serve/Modelfile agree with it;
    and held-out prompts end by themselves in Transformers and llama.cpp (exit 1 otherwise;
    `axowrap push` then refuses, unless given --allow-failed-audit). Results in RUN/audit/audit.json and report.md.

    \b
      axowrap audit runs/sql-3f2a9c1d
      axowrap audit runs/sql-3f2a9c1d --prompts 32 --max-tokens 256
    """
    from axowrap.cli.output import finished, run_events
    from axowrap.run.pipeline import run_steps
    from axowrap.run.rundir import open_run

    run = open_run(run_dir)
    events = run_events(json_events)
    options = {"prompts": prompts, "max_tokens": max_tokens}
    state = run_steps(run, ["audit"], force=force, dry_run=dry_run, options=options, events=events)
    result = (state.get("audit") or {}).get("result") or {}
    finished(events, run.root, dry_run, audit=result.get("checks"))
    if not json_events and result.get("report") and not dry_run:
        click.echo(result["report"], nl=False)
    if result.get("passed") is False:
        from axowrap.errors import AxowrapError

        raise AxowrapError(
            "stop audit failed: " + "; ".join(result["failures"]),
            hint="; ".join(result["fixes"]) + f" (details in {result['file']})",
        )
