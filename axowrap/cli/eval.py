"""`axowrap eval RUN`: score the base and the fine-tuned model on the held-out rows, then the gate."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import json_lines_option


@click.command("eval")
@click.argument(
    "run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path), shell_complete=complete.runs
)
@click.option(
    "--model",
    "model",
    type=click.Choice(["base", "adapter", "merged", "gguf"]),
    default="adapter",
    show_default=True,
    help="The model scored against the base: base alone, base + adapter, the merged model, "
    "or a GGUF file through llama.cpp.",
)
@click.option(
    "--gguf-type",
    default=None,
    metavar="TYPE",
    shell_complete=complete.gguf_types,
    help="With --model gguf: which of the run's GGUF files (e.g. q8_0).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Score only the first N held-out rows (and N per standard task).",
)
@click.option(
    "--max-gen-toks", type=click.IntRange(min=1), default=None, help="Longest generated answer in tokens (default 256)."
)
@click.option("--force", is_flag=True, help="Redo the eval even if it is up to date.")
@click.option("--dry-run", is_flag=True, help="Say what would be scored; run nothing.")
@json_lines_option
def command(
    run_dir: Path,
    model: str,
    gguf_type: str | None,
    limit: int | None,
    max_gen_toks: int | None,
    force: bool,
    dry_run: bool,
    json_events: bool,
) -> None:
    """Evaluate RUN (a run directory made by `axowrap run`): the held-out domain eval and the
    spec's `eval.lm_eval` tasks on the base and the fine-tuned model, a base vs tuned table,
    then the `eval.require` gate (exit 1 when a metric is below its bar).

    The domain eval is an lm-eval task in RUN/eval/task/; results land in RUN/eval/results.json.

    \b
      axowrap eval runs/sql-3f2a9c1d
      axowrap eval runs/sql-3f2a9c1d --model merged --limit 50
      axowrap eval runs/sql-3f2a9c1d --model gguf --gguf-type q8_0
      lm_eval run --model hf --model_args pretrained=BASE --tasks axowrap_domain --include_path runs/sql-3f2a9c1d/eval/task
    """
    from axowrap.cli.output import finished, run_events
    from axowrap.run.pipeline import run_steps
    from axowrap.run.rundir import open_run

    run = open_run(run_dir)
    events = run_events(json_events)
    if gguf_type and model != "gguf":
        raise click.UsageError("--gguf-type goes with --model gguf")
    options = {"model": model, "gguf_type": gguf_type, "limit": limit, "max_gen_toks": max_gen_toks}
    state = run_steps(run, ["eval"], force=force, dry_run=dry_run, options=options, events=events)
    result = (state.get("eval") or {}).get("result") or {}
    finished(events, run.root, dry_run, metrics=result.get("metrics"))
    if not json_events and result.get("report") and not dry_run:
        click.echo(result["report"], nl=False)
