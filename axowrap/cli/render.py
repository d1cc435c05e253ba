"""`axowrap render`: a spec -> Axolotl YAML; `--all`/`--check` for team repos; `--explain KEY`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import (
    axolotl_option,
    cache_options,
    json_option,
    output_option,
    set_option,
    target_option,
    write_output,
)


@click.command("render")
@click.argument("spec", type=click.Path(path_type=Path), required=False, shell_complete=complete.specs)
@output_option("the Axolotl config")
@target_option("Render for this target, e.g. cpu or h100-80gb:8.")
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
@set_option
@json_option
@axolotl_option("Render for")
@cache_options(
    "With --all: render in up to N processes (0: as many as pay off, up to one per CPU).",
    "With --all: render every spec afresh (renders are cached by content).",
)
def command(
    spec: Path | None,
    output: Path | None,
    target: str | None,
    all_specs: bool,
    check: bool,
    explain: tuple[str, ...],
    overrides: tuple[Any, ...],
    as_json: bool,
    axolotl: str | None,
    jobs: int,
    no_cache: bool,
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
      axowrap render specs/sql.yaml --set lora.r=8 --explain lora_r
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
        if as_json:
            from axowrap.cli.envelope import print_json

            keys = {k: explain_keys(spec, [k], target=target, overrides=overrides) for k in explain}
            print_json(True, spec=str(spec), explain=keys)
        else:
            click.echo(explain_keys(spec, list(explain), target=target, overrides=overrides), nl=False)
        return
    if all_specs or check:
        if overrides:
            raise UsageError(
                "--set does not apply to --all/--check", hint="rendered/ configs are the specs as committed"
            )
        _team(spec, output, target, check, as_json, jobs=jobs, use_cache=not no_cache)
        return
    from axowrap.validate import render_checked

    assert spec is not None  # checked above: one SPEC unless --all
    rendered, warnings = render_checked(spec, target=target, overrides=overrides, dest=output, axolotl=axolotl)
    print_problems(warnings)
    if as_json:
        from axowrap.cli.envelope import print_json
        from axowrap.yamlio import atomic_write

        if output is not None:
            atomic_write(output, rendered.text)
        print_json(
            True,
            spec=str(spec),
            output=str(output) if output else None,
            config=rendered.config,
            warnings=[p.to_json() for p in warnings],
        )
        return
    write_output(output, rendered.text)


def _team(
    spec: Path | None,
    output: Path | None,
    target: str | None,
    check: bool,
    as_json: bool,
    *,
    jobs: int,
    use_cache: bool,
) -> None:
    from axowrap.cli.output import print_problems
    from axowrap.errors import UsageError
    from axowrap.team.discovery import find_specs
    from axowrap.team.render_check import failure, sync_rendered

    if target:
        raise UsageError(
            "--target does not apply to --all/--check", hint="rendered/ configs use each spec's compute.target"
        )
    specs = [spec] if spec is not None else find_specs(Path("."))
    outcomes = sync_rendered(specs, check=check, dest=output, prune=spec is None, jobs=jobs, use_cache=use_cache)
    error = failure(outcomes, check)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(
            error is None,
            check=check,
            specs=[
                {
                    "spec": str(o.spec),
                    "output": str(o.dest) if o.dest else None,
                    "status": o.status,
                    "ok": o.ok,
                    "diff": o.diff or None,
                    "problems": [p.to_json() for p in o.problems],
                }
                for o in outcomes
            ],
        )
        if error is not None:
            raise error
        return
    for o in outcomes:
        print_problems(o.problems, err=False)
        if o.diff:
            click.echo(o.diff, nl=False)
        colour = "green" if o.ok else "red"
        click.echo(f"{click.style(o.status, fg=colour)} {o.spec}" + (f" -> {o.dest}" if o.dest else ""))
    if error is not None:
        raise error
