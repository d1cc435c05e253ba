"""`axowrap validate`: specs or hand-written Axolotl configs, every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "all_specs", is_flag=True, help="Also every spec under the current directory (a team repo).")
@click.option("--deep", is_flag=True, help="Also run Axolotl's own validator (imports Axolotl: ~10 s).")
@click.option(
    "--target", default=None, help="Check for this machine, e.g. h100-80gb:8 (default: the spec's compute.target)."
)
@click.option(
    "--axolotl",
    "axolotl",
    default=None,
    metavar="VERSION",
    help="Check for this Axolotl release (default: the installed one, else compute.axolotl, else the newest).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
def command(
    files: tuple[Path, ...], all_specs: bool, deep: bool, target: str | None, axolotl: str | None, as_json: bool
) -> None:
    """Validate FILES: axowrap specs or Axolotl configs (detected per file).

    Problems are reported together, sorted by file and key path, each with what was wrong
    and what would fix it. Exit code 1 when any file has an error.

    \b
      axowrap validate specs/sql.yaml
      axowrap validate --deep --target h100-80gb:8 specs/sql.yaml
      axowrap validate specs/*.yaml hand-written.axolotl.yaml
      axowrap validate --all                      # every spec in the repo (CI)
    """
    from axowrap.cli.output import print_problems
    from axowrap.errors import AxowrapError, SpecError, UsageError, ValidationFailed
    from axowrap.problems import Problem
    from axowrap.releases import choose
    from axowrap.validate import Report, validate_path

    if all_specs:
        from axowrap.team.discovery import find_specs

        files = (*files, *(p for p in find_specs(Path(".")) if p not in files))
    if not files:
        raise click.UsageError("give FILES, or --all")
    tgt = target  # resolved per spec: a team's own targets count
    default = choose(axolotl)  # refuses a release without tables before any file is read
    reports = []
    for path in files:
        try:
            reports.append(validate_path(path, target=tgt, deep=deep, axolotl=axolotl))
        except ValidationFailed as exc:
            reports.append(Report(str(path), "unreadable", exc.problems))
        except SpecError as exc:
            message = exc.message.removeprefix(f"{path}: ")
            reports.append(
                Report(str(path), "unreadable", [Problem(path=(), message=message, file=str(path), hint=exc.hint)])
            )
        except UsageError:  # the command line itself is wrong (an unknown --target): exit 2, once
            raise
        except AxowrapError as exc:  # e.g. --deep without Axolotl: this file's problem, the others still run
            reports.append(
                Report(str(path), "unchecked", [Problem(path=(), message=exc.message, file=str(path), hint=exc.hint)])
            )
    bad = [r for r in reports if not r.ok]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": not bad,
                    "axolotl": {"version": default.version, "chosen_by": default.chosen_by},
                    "files": [
                        {
                            "file": r.file,
                            "kind": r.kind,
                            "ok": r.ok,
                            "axolotl": (r.release or default).version,
                            "problems": [p.to_json() for p in r.problems],
                        }
                        for r in reports
                    ],
                },
                indent=2,
            )
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
