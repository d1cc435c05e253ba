"""`axowrap new`: write a short, commented spec from a task preset."""

from __future__ import annotations

import os
from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import TARGET_ENV, json_option


@click.command("new")
@click.option("--task", "task", required=True, shell_complete=complete.tasks, help="Task preset (see `axowrap tasks`).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Where to write the spec ('-' for stdout). Default: <task>.yaml.",
)
@click.option("--model", default=None, help="Base model: Hub id or local folder.")
@click.option(
    "--method",
    default=None,
    shell_complete=complete.methods,
    help="How to train (default lora; `axowrap schema spec`).",
)
@click.option(
    "--data",
    default=None,
    help="Dataset path (relative to the spec) or Hub id. Default: data/<example>, with the preset's example rows.",
)
@click.option(
    "--format", "fmt", default=None, shell_complete=complete.formats, help="Row format (default: the preset's)."
)
@click.option(
    "--target",
    default=None,
    envvar=TARGET_ENV,
    show_envvar=True,
    shell_complete=complete.targets,
    help="Target GPU profile (e.g. a10g-24gb, cpu).",
)
@click.option(
    "--extends",
    "extends",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    shell_complete=complete.specs,
    help="A base spec to extend; only what differs from it is written. Default in a team repo: its team.yaml.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
def command(
    task: str,
    output: Path | None,
    model: str | None,
    method: str | None,
    data: str | None,
    fmt: str | None,
    target: str | None,
    extends: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Write a short spec for TASK, with comments, ready to edit.

    Without --data the spec points at data/<example file> next to it, and that file is
    written with the preset's example rows (unless it exists): replace them with yours.
    Inside a team repo (a team.yaml at its root) the spec extends the team base and leaves
    out what the base sets, so the team's choices (target, optimizer, ...) apply.

    \b
      axowrap new --task sql -o specs/sql.yaml
      axowrap new --task chat --model ./my-model --data data/chat.jsonl --target cpu -o -
      axowrap new --task sql --extends ../base.yaml -o specs/sql.yaml
    """
    from axowrap.cli.envelope import print_json
    from axowrap.spec.new import new_spec_text, write_example_data, write_new_spec

    to_stdout = output is not None and str(output) == "-"
    dest = None if to_stdout else (output or Path(f"{task}.yaml"))
    rel, inherited = _team_base(extends, dest)
    text = new_spec_text(
        task, model=model, method=method, data=data, fmt=fmt, target=target, extends=rel, inherited=inherited
    )
    if dest is None:
        if as_json:
            print_json(True, spec=None, text=text, extends=rel)
        else:
            click.echo(text, nl=False)
        return
    write_new_spec(dest, text, force=force)
    rows = write_example_data(dest, task) if data is None else None
    if as_json:
        print_json(True, spec=str(dest), data=str(rows) if rows else None, extends=rel)
        return
    extra = f" and {rows} (the preset's example rows: replace them with yours)" if rows else ""
    based = f", extending {rel}" if rel else ""
    click.echo(f"wrote {dest}{extra}{based}: edit it, then `axowrap validate {dest}`")


def _team_base(extends: Path | None, dest: Path | None) -> tuple[str | None, dict | None]:
    """(the `extends:` value relative to the new spec, the values the base gives), or (None, None)."""
    from axowrap.errors import UsageError
    from axowrap.repo import TEAM_BASE, find_root
    from axowrap.spec.read import base_values

    folder = dest.parent if dest is not None else Path(".")
    base = extends
    if base is None:
        root = find_root(folder)
        if root is None:
            return None, None
        base = root / TEAM_BASE
        if dest is not None and dest.resolve() == base.resolve():
            return None, None
    elif not base.is_file():
        raise UsageError(f"--extends {base}: no such file", hint="give the base spec's path")
    rel = Path(os.path.relpath(base.resolve(), folder.resolve())).as_posix()
    return rel, base_values(base)
