"""`axowrap render`: a spec -> Axolotl YAML."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("render")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Axolotl config here (default: stdout).")
@click.option("--target", default=None, help="Render for this target, e.g. cpu or h100-80gb:8.")
def command(spec: Path, output: Path | None, target: str | None) -> None:
    """Render SPEC into a validated Axolotl config.

    The config is checked against Axolotl's schema before anything is written; on any error
    nothing is written and an existing output file is left untouched.

    \b
      axowrap render specs/sql.yaml -o sql.axolotl.yaml
      axowrap render specs/sql.yaml --target cpu
    """
    from axowrap.cli.report import print_problems
    from axowrap.targets import parse_target
    from axowrap.validate import render_checked
    from axowrap.yamlio import atomic_write

    rendered, warnings = render_checked(spec, target=parse_target(target) if target else None)
    print_problems(warnings)
    if output is None:
        click.echo(rendered.text, nl=False)
    else:
        atomic_write(output, rendered.text)
        click.echo(f"wrote {output}", err=True)
