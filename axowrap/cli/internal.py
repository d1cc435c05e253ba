"""Hidden subcommands that job files (Slurm, SkyPilot) call on every node, so they go through
the CLI's one error handler like everything else:

    axowrap _prepare SPEC --runs-dir DIR     prepare the run directory, print its path
    axowrap _envcheck RUN --rank R --nodes N --main-ip IP --port P [-- CMD...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli.options import set_option


@click.command("_prepare", hidden=True)
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@set_option
def prepare(spec: Path, runs_dir: Path, overrides: tuple[Any, ...]) -> None:
    """Create or update SPEC's run directory (spec copy, data split, config, manifest, launch
    files) and print its path. The same directory every time: a requeued job resumes it."""
    from axowrap.jobs.prepare import prepare as prepare_job

    click.echo(prepare_job(spec, runs_dir, overrides).root.resolve())


@click.command("_envcheck", hidden=True, context_settings={"ignore_unknown_options": True})
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rank", type=int, required=True)
@click.option("--nodes", type=int, required=True)
@click.option("--main-ip", required=True)
@click.option("--port", type=int, required=True, help="The exchange port (training port + 1).")
@click.option("--timeout", type=float, default=None)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def envcheck(
    run_dir: Path, rank: int, nodes: int, main_ip: str, port: int, timeout: float | None, command: tuple[str, ...]
) -> None:
    """Compare this node's environment with the others'; then run COMMAND (after `--`)."""
    from axowrap.jobs.envcheck import check_and_run

    code = check_and_run(run_dir, rank=rank, nodes=nodes, host=main_ip, port=port, timeout_s=timeout, command=command)
    if code:
        raise click.exceptions.Exit(code)
