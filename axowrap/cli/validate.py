"""`axowrap validate`: specs or hand-written Axolotl configs, every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from axowrap.cli import complete
from axowrap.cli.options import axolotl_option, cache_options, json_option, set_option, target_option

if TYPE_CHECKING:
    from axowrap.validate import Report


@click.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), shell_complete=complete.specs)
@click.option("--all", "all_specs", is_flag=True, help="Also every spec under the current directory (a team repo).")
@click.option("--deep", is_flag=True, help="Also run Axolotl's own validator (imports Axolotl: ~10 s).")
@target_option("Check for this machine, e.g. h100-80gb:8 (default: the spec's compute.target).")
@axolotl_option("Check for")
@set_option
@json_option
@cache_options(
    "Check in up to N processes (0: as many as pay off, up to one per CPU).",
    "Check every file afresh (results are cached by content hash).",
)
def command(
    files: tuple[Path, ...],
    all_specs: bool,
    deep: bool,
    target: str | None,
    axolotl: str | None,
    overrides: tuple[Any, ...],
    as_json: bool,
    jobs: int,
    no_cache: bool,
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

    A result is reused while the file, everything it reads (bases, data files, the model's
    folder) and axowrap are unchanged; --deep is never cached.
    """
    from axowrap.checkcache import validate_files
    from axowrap.cli.output import print_problems
    from axowrap.errors import AxowrapError
    from axowrap.releases import choose

    if all_specs:
        from axowrap.team.discovery import find_specs

        files = (*files, *(p for p in find_specs(Path(".")) if p not in files))
    if not files:
        raise click.UsageError("give FILES, or --all")
    default = choose(axolotl)  # refuses a release without tables before any file is read
    # --target is resolved per spec: a team's own targets count
    reports = validate_files(
        files,
        target=target,
        deep=deep,
        axolotl=axolotl,
        use_cache=not no_cache,
        jobs=jobs,
        on_error=unchecked,
        overrides=overrides,
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
            axolotl={"version": default.version, "chosen_by": default.chosen_by},
            files=[
                {
                    "file": r.file,
                    "kind": r.kind,
                    "ok": r.ok,
                    "axolotl": (r.release or default).version,
                    "problems": [p.to_json() for p in r.problems],
                }
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


def unchecked(path: Path, exc: Exception) -> Report:
    """The report of a file whose check stopped with `exc`: unreadable (not YAML, not a spec),
    or unchecked (e.g. --deep without Axolotl: the other files still run). A UsageError (the
    command line itself is wrong: an unknown --target) and any other exception propagate."""
    from axowrap.errors import AxowrapError, SpecError, UsageError, ValidationFailed
    from axowrap.problems import Problem
    from axowrap.validate import Report

    if isinstance(exc, ValidationFailed):
        return Report(str(path), "unreadable", exc.problems)
    if isinstance(exc, SpecError):
        message = exc.message.removeprefix(f"{path}: ")
        return Report(str(path), "unreadable", [Problem(path=(), message=message, file=str(path), hint=exc.hint)])
    if isinstance(exc, AxowrapError) and not isinstance(exc, UsageError):
        return Report(str(path), "unchecked", [Problem(path=(), message=exc.message, file=str(path), hint=exc.hint)])
    raise exc
