"""`axowrap launch slurm|skypilot`: job files that train a spec on gpus_per_node x nodes."""

from __future__ import annotations

from pathlib import Path

import click


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


OUTPUT = click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Write the job file here."
)
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
@click.argument("spec", type=click.Path(path_type=Path))
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
    show_default=True,
    help="Where the run directory goes (a filesystem every node sees).",
)
@ENV
@PORT
def slurm(
    spec: Path,
    output: Path,
    time_: str,
    partition: str | None,
    account: str | None,
    job_name: str | None,
    runs_root: Path,
    env: tuple[str, ...],
    port: int,
) -> None:
    """An sbatch script: one task per node running `accelerate launch` with --machine_rank from
    SLURM_NODEID and the allocation's first host as main process; requeue resumes the run.

    \b
      axowrap launch slurm specs/big.yaml -o job.sbatch --partition gpu --account ml
      sbatch job.sbatch
    """
    from axowrap.jobs.slurm import SlurmOptions, write_slurm

    opts = SlurmOptions(
        time=time_,
        partition=partition,
        account=account,
        job_name=job_name,
        runs_root=runs_root,
        port=port,
        nccl=_env(env),
    )
    click.echo(f"wrote {write_slurm(spec, opts, output)} (submit: sbatch {output})", err=True)


@command.command("skypilot")
@click.argument("spec", type=click.Path(path_type=Path))
@OUTPUT
@click.option("--bucket", default=None, help="A bucket for the run directory, so a preempted job resumes.")
@click.option("--spot", is_flag=True, help="Use spot capacity (with --bucket).")
@click.option("--disk-size", type=int, default=256, show_default=True, help="Disk per node, GB.")
@click.option("--install", default=None, help="pip requirement(s) for axowrap instead of axowrap.lock / this version.")
@ENV
@PORT
def skypilot(
    spec: Path,
    output: Path,
    bucket: str | None,
    spot: bool,
    disk_size: int,
    install: str | None,
    env: tuple[str, ...],
    port: int,
) -> None:
    """A SkyPilot task: num_nodes, accelerators, setup from the spec's lock, file mounts for the
    data, and a run section using SKYPILOT_NODE_RANK and SKYPILOT_NODE_IPS.

    \b
      axowrap launch skypilot specs/big.yaml -o task.yaml --bucket my-runs --spot
      sky launch -c big task.yaml
    """
    from axowrap.jobs.skypilot import SkyOptions, write_skypilot

    if spot and not bucket:
        raise click.BadParameter(
            "spot capacity needs --bucket (else a preempted run loses its checkpoints)", param_hint="--spot"
        )
    opts = SkyOptions(bucket=bucket, use_spot=spot, disk_size=disk_size, port=port, install=install, nccl=_env(env))
    click.echo(f"wrote {write_skypilot(spec, opts, output)} (launch: sky launch {output})", err=True)
