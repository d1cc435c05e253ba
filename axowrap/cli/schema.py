"""`axowrap schema`: print the JSON Schemas (for editors and other tools)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("schema")
@click.argument("kind", type=click.Choice(["spec", "axolotl"]))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema here (default: stdout).",
)
@click.option("--axolotl", default=None, metavar="VERSION", help="The Axolotl release (default: as `validate` picks).")
def command(kind: str, output: Path | None, axolotl: str | None) -> None:
    """Print the JSON Schema of axowrap specs (spec) or of Axolotl configs (axolotl).

    \b
      axowrap schema spec -o schemas/spec.schema.json
      # then, first line of a spec:  # yaml-language-server: $schema=../schemas/spec.schema.json
    """
    from axowrap.team.schemas import schema_text
    from axowrap.yamlio import atomic_write

    text = schema_text(kind, axolotl)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
        click.echo(f"wrote {output}", err=True)
