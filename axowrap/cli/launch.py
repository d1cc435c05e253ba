"""`axowrap launch slurm|skypilot`: job files that train a spec on gpus_per_node x nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import RUNS_DIR_ENV, json_option, output_option, set_option
from axowrap.cli.style import note


def _env(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use NAME=VALUE", param_hint="--env")
        out[name] = value
    return out


@click.group("launch")
def command() -> None:
    """Job files for schedulers: Slurm (sbatch) and SkyPilot (task YAML).

    Nodes, GPUs per node and strategy come from the spec's `compute:` section.

    \b
      axowrap launch slurm specs/big.yaml -o job.sbatch --partition gpu --time 12:00:00
      axowrap launch skypilot specs/big.yaml -o task.yaml --bucket my-runs
    """


OUTPUT = output_option("the job file", required=True)
ENV = click.option(
    "--env",
    "env",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set/override an environment default (e.g. NCCL_SOCKET_IFNAME=ib0). Repeatable.",
)
PORT = click.option(
    "--port", type=int, default=29500, show_default=True, help="Main node port (the env check uses port+1)."
)


@command.command("slurm")
@click.argument("spec", type=click.Path(path_type=Path), shell_complete=complete.specs)
@OUTPUT
@click.option("--time", "time_", default="24:00:00", show_default=True, help="Wall time (Slurm format).")
@click.option("--partition", default=None, help="Slurm partition.")
@click.option("--account", default=None, help="Slurm account.")
@click.option("--job-name", default=None, help="Job name (default: the spec's name).")
@click.option(
    "--runs-dir",
    "--runs-root",
    "runs_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    envvar=RUNS_DIR_ENV,
    show_default=True,
    help="Where the run directory goes (a filesystem every node sees).",
)
@ENV
@PORT
@set_option
@json_option
def slurm(
    spec: Path,
    output: Path | None,
    time_: str,
    partition: str | None,
    account: str | None,
    job_name: str | None,
    runs_root: Path,
    env: tuple[str, ...],
    port: int,
    overrides: tuple[Any, ...],
    as_json: bool,
) -> None:
    """An sbatch script: one task per node running `accelerate launch` with --machine_rank from
    SLURM_NODEID and the allocation's first host as main process; requeue resumes the run.

    \b
      axowrap launch slurm specs/big.yaml -o job.sbatch --partition gpu --account ml
      sbatch job.sbatch
    """
    from axowrap.jobs.slurm import SlurmOptions, slurm_script, write_slurm

    opts = SlurmOptions(
        time=time_,
        partition=partition,
        account=account,
        job_name=job_name,
        runs_root=runs_root,
        port=port,
        nccl=_env(env),
        overrides=overrides,
    )
    if output is None:
        _no_json(as_json)
        click.echo(slurm_script(spec, opts, script_name=f"{spec.stem}.sbatch"), nl=False)
        return
    _done(write_slurm(spec, opts, output), ["sbatch", str(output)], as_json)


@command.command("skypilot")
@click.argument("spec", type=click.Path(path_type=Path), shell_complete=complete.specs)
@OUTPUT
@click.option("--bucket", default=None, help="A bucket for the run directory, so a preempted job resumes.")
@click.option("--spot", is_flag=True, help="Use spot capacity (with --bucket).")
@click.option("--disk-size", type=int, default=256, show_default=True, help="Disk per node, GB.")
@click.option("--install", default=None, help="pip requirement(s) for axowrap instead of axowrap.lock / this version.")
@ENV
@PORT
@set_option
@json_option
def skypilot(
    spec: Path,
    output: Path | None,
    bucket: str | None,
    spot: bool,
    disk_size: int,
    install: str | None,
    env: tuple[str, ...],
    port: int,
    overrides: tuple[Any, ...],
    as_json: bool,
) -> None:
    """A SkyPilot task: num_nodes, accelerators, setup from the spec's lock, file mounts for the
    data, and a run section using SKYPILOT_NODE_RANK and SKYPILOT_NODE_IPS.

    \b
      axowrap launch skypilot specs/big.yaml -o task.yaml --bucket my-runs --spot
      sky launch -c big task.yaml
    """
    from axowrap.jobs.skypilot import SkyOptions, skypilot_task, write_skypilot

    if spot and not bucket:
        raise click.BadParameter(
            "spot capacity needs --bucket (else a preempted run loses its checkpoints)", param_hint="--spot"
        )
    opts = SkyOptions(
        bucket=bucket,
        use_spot=spot,
        disk_size=disk_size,
        port=port,
        install=install,
        nccl=_env(env),
        overrides=overrides,
    )
    if output is None:
        _no_json(as_json)
        click.echo(skypilot_task(spec, opts), nl=False)
        return
    _done(write_skypilot(spec, opts, output), ["sky", "launch", str(output)], as_json)


def _no_json(as_json: bool) -> None:
    if as_json:
        from axowrap.errors import UsageError

        raise UsageError("-o - prints the job file itself: it cannot be combined with --json")


def _done(path: Path, submit: list[str], as_json: bool) -> None:
    import shlex

    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, file=str(path), submit=shlex.join(submit))
        return
    note(f"wrote {path} (submit: {shlex.join(submit)})")
