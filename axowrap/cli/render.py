"""`axowrap render`: a spec -> Axolotl YAML; `--all`/`--check` for team repos; `--explain KEY`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("render")
@click.argument("spec", type=click.Path(path_type=Path), required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Axolotl config here (default: stdout).",
)
@click.option("--target", default=None, help="Render for this target, e.g. cpu or h100-80gb:8.")
@click.option(
    "--all", "all_specs", is_flag=True, help="Every spec under the current directory -> rendered/<name>.axolotl.yaml."
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; fail with a diff when the committed rendered config differs from a fresh render.",
)
@click.option(
    "--explain",
    "explain",
    multiple=True,
    metavar="KEY",
    help="Say where KEY's value came from (Axolotl key like lora_r, or spec key like training.epochs).",
)
@click.option(
    "--axolotl",
    "axolotl",
    default=None,
    metavar="VERSION",
    help="Render for this Axolotl release (default: the installed one, else compute.axolotl, else the newest).",
)
def command(
    spec: Path | None,
    output: Path | None,
    target: str | None,
    all_specs: bool,
    check: bool,
    explain: tuple[str, ...],
    axolotl: str | None,
) -> None:
    """Render SPEC into a validated Axolotl config.

    The config is checked against Axolotl's schema before anything is written; on any error
    nothing is written and an existing output file is left untouched.

    In a team repo (run from its root), `--all` renders every spec to
    rendered/<spec name>.axolotl.yaml, and `--check` (CI, pre-commit) fails with a unified
    diff when a committed rendered config is missing, stale, or edited by hand.

    \b
      axowrap render specs/sql.yaml -o sql.axolotl.yaml
      axowrap render specs/sql.yaml --target cpu
      axowrap render --all --check                 # CI: rendered/ is up to date
      axowrap render specs/sql.yaml --explain learning_rate
    """
    from axowrap.cli.output import print_problems
    from axowrap.errors import UsageError

    if (spec is None) == (not all_specs):
        raise UsageError(
            "give one SPEC, or --all", hint="e.g. `axowrap render specs/sql.yaml` or `axowrap render --all --check`"
        )
    if explain:
        from axowrap.team.explain import explain_keys

        if spec is None:
            raise UsageError("--explain needs one SPEC, not --all")
        click.echo(explain_keys(spec, list(explain), target=target), nl=False)
        return
    if all_specs or check:
        _team(spec, output, target, check)
        return
    from axowrap.validate import render_checked
    from axowrap.yamlio import atomic_write

    assert spec is not None  # checked above: one SPEC unless --all
    rendered, warnings = render_checked(spec, target=target, axolotl=axolotl)
    print_problems(warnings)
    if output is None:
        click.echo(rendered.text, nl=False)
    else:
        atomic_write(output, rendered.text)
        click.echo(f"wrote {output}", err=True)


def _team(spec: Path | None, output: Path | None, target: str | None, check: bool) -> None:
    from axowrap.cli.output import print_problems
    from axowrap.errors import UsageError
    from axowrap.team.discovery import find_specs
    from axowrap.team.render_check import failure, sync_rendered

    if target:
        raise UsageError(
            "--target does not apply to --all/--check", hint="rendered/ configs use each spec's compute.target"
        )
    specs = [spec] if spec is not None else find_specs(Path("."))
    outcomes = sync_rendered(specs, check=check, dest=output, prune=spec is None)
    for o in outcomes:
        print_problems(o.problems, err=False)
        if o.diff:
            click.echo(o.diff, nl=False)
        colour = "green" if o.ok else "red"
        click.echo(f"{click.style(o.status, fg=colour)} {o.spec}" + (f" -> {o.dest}" if o.dest else ""))
    error = failure(outcomes, check)
    if error is not None:
        raise error
