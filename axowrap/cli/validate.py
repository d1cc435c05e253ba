"""`axowrap validate`: specs or hand-written Axolotl configs, every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option, set_option, target_option


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), shell_complete=complete.specs)
@click.option("--all", "all_specs", is_flag=True, help="Also every spec under the current directory (a team repo).")
@click.option("--deep", is_flag=True, help="Also run Axolotl's own validator (imports Axolotl: ~10 s).")
@target_option("Check for this machine, e.g. h100-80gb:8 (default: the spec's compute.target).")
@set_option
@json_option
def command(
    files: tuple[Path, ...], all_specs: bool, deep: bool, target: str | None, overrides: tuple[Any, ...], as_json: bool
) -> None:
    """Validate FILES: axowrap specs or Axolotl configs (detected per file).

    Problems are reported together, sorted by file and key path, each with what was wrong
    and what would fix it. Exit code 1 when any file has an error. With --all, two specs
    with the same name are an error too.

    \b
      axowrap validate specs/sql.yaml
      axowrap validate --deep --target h100-80gb:8 specs/sql.yaml
      axowrap validate specs/sql.yaml --set training.learning_rate=1e-4
      axowrap validate specs/*.yaml hand-written.axolotl.yaml
      axowrap validate --all                      # every spec in the repo (CI)
    """
    from axowrap.cli.output import print_problems
    from axowrap.errors import AxowrapError, SpecError, ValidationFailed
    from axowrap.problems import Problem
    from axowrap.validate import Report, validate_path

    if all_specs:
        from axowrap.team.discovery import find_specs

        files = (*files, *(p for p in find_specs(Path(".")) if p not in files))
    if not files:
        raise click.UsageError("give FILES, or --all")
    tgt = target  # resolved per spec: a team's own targets count
    reports = []
    for path in files:
        try:
            reports.append(validate_path(path, target=tgt, deep=deep, overrides=overrides))
        except ValidationFailed as exc:
            reports.append(Report(str(path), "unreadable", exc.problems))
        except SpecError as exc:
            message = exc.message.removeprefix(f"{path}: ")
            reports.append(
                Report(str(path), "unreadable", [Problem(path=(), message=message, file=str(path), hint=exc.hint)])
            )
    if all_specs:
        from axowrap.team.discovery import name_clashes

        by_file = {r.file: r for r in reports}
        for clash in name_clashes(list(files)):
            report = by_file[clash.file]
            report.problems = sorted([*report.problems, clash], key=lambda p: (p.line or 0, p.message))
    bad = [r for r in reports if not r.ok]
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(
            not bad,
            files=[
                {"file": r.file, "kind": r.kind, "ok": r.ok, "problems": [p.to_json() for p in r.problems]}
                for r in reports
            ],
        )
    else:
        for r in reports:
            print_problems(r.problems, err=False)
            if r.ok:
                on = f", target {r.target.name} x{r.target.gpus}" if r.target else ""
                click.echo(f"{click.style('ok', fg='green')} {r.file} ({r.kind}{on}{', deep' if deep else ''})")
    if bad:
        errors = sum(1 for r in bad for p in r.problems if p.severity == "error")
        raise AxowrapError(f"{errors} error(s) in {len(bad)} of {len(reports)} file(s)")
