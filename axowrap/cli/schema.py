"""`axowrap schema`: print the JSON Schemas (for editors and other tools), or where they are."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli.options import axolotl_option, output_option, write_output


@click.command("schema")
@click.argument("kind", type=click.Choice(["spec", "axolotl"]))
@output_option("the schema")
@click.option("--path", "show_path", is_flag=True, help="Print where the installed schema file is, not its text.")
@axolotl_option("The schema of")
def command(kind: str, output: Path | None, show_path: bool, axolotl: str | None) -> None:
    """Print the JSON Schema of axowrap specs (spec) or of Axolotl configs (axolotl).

    Rendered configs name the schema in their first line (`# yaml-language-server: $schema=`):
    the team repo's schemas/ when there is one, else the installed file `--path` prints.

    \b
      axowrap schema spec -o schemas/spec.schema.json
      axowrap schema axolotl --path
      # then, first line of a spec:  # yaml-language-server: $schema=../schemas/spec.schema.json
    """
    from axowrap.team.schemas import schema_path, schema_text

    if show_path:
        click.echo(schema_path(kind, axolotl).resolve())
        return
    write_output(output, schema_text(kind, axolotl))
