"""`axowrap new`: write a short, commented spec from a task preset."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new")
@click.option("--task", "task", required=True, help="Task preset (see `axowrap tasks`).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the spec ('-' for stdout). Default: <task>.yaml.",
)
@click.option("--model", default=None, help="Base model: Hub id or local folder.")
@click.option("--method", default="lora", show_default=True, help="How to train (see `axowrap schema spec`).")
@click.option(
    "--data",
    default=None,
    help="Dataset path (relative to the spec) or Hub id. Default: data/<example>, with the preset's example rows.",
)
@click.option("--format", "fmt", default=None, help="Row format (default: the preset's).")
@click.option("--target", default=None, help="Target GPU profile (e.g. a10g-24gb, cpu).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def command(
    task: str,
    output: Path | None,
    model: str | None,
    method: str,
    data: str | None,
    fmt: str | None,
    target: str | None,
    force: bool,
) -> None:
    """Write a short spec for TASK, with comments, ready to edit.

    Without --data the spec points at data/<example file> next to it, and that file is
    written with the preset's example rows (unless it exists): replace them with yours.

    \b
      axowrap new --task sql -o specs/sql.yaml
      axowrap new --task chat --model ./my-model --data data/chat.jsonl --target cpu -o -
    """
    from axowrap.spec.new import DEFAULT_MODEL, new_spec_text, write_example_data, write_new_spec

    text = new_spec_text(task, model=model or DEFAULT_MODEL, method=method, data=data, fmt=fmt, target=target)
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return
    dest = output or Path(f"{task}.yaml")
    write_new_spec(dest, text, force=force)
    rows = write_example_data(dest, task) if data is None else None
    extra = f" and {rows} (the preset's example rows: replace them with yours)" if rows else ""
    click.echo(f"wrote {dest}{extra}: edit it, then `axowrap validate {dest}`")
