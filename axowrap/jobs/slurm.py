"""`axowrap launch slurm`: an sbatch script that trains a spec on gpus_per_node x nodes.

The batch step prepares the run directory once (on a filesystem all nodes see), then
`srun` starts one task per node: the node environment check, then `accelerate launch`
with `--machine_rank $SLURM_NODEID` and the allocation's first host as main process.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from axowrap.errors import UsageError

SLURM_TIME = re.compile(r"^(\d+-)?\d+(:\d{2}){0,2}\Z")


@dataclass
class SlurmOptions:
    time: str = "24:00:00"
    partition: str | None = None
    account: str | None = None
    job_name: str | None = None
    runs_root: Path = Path("runs")
    port: int = 29500
    nccl: dict[str, str] = field(default_factory=dict)  # NAME=VALUE defaults replacing/adding to NCCL_DEFAULTS


def _directive(option: str, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_.,:+-]+", value):
        raise UsageError(f"--{option} {value!r}: Slurm names use letters, digits and _ . , : + - only")
    return value


def slurm_script(spec_path: Path, opts: SlurmOptions, script_name: str = "job.sbatch") -> str:
    """The sbatch script text for the spec at `spec_path` (validated first)."""
    from axowrap.jobs.common import check_lock_if_any, job_context
    from axowrap.templating import render_template
    from axowrap.validate import load_spec

    spec = load_spec(spec_path)
    check_lock_if_any(spec.path, packages=True)  # the job runs this install: all of the lock applies
    if not SLURM_TIME.match(opts.time):
        raise UsageError(f"--time {opts.time!r}: use Slurm's format, e.g. 24:00:00 or 2-00:00:00")
    job_name = _directive("job-name", opts.job_name or re.sub(r"[^A-Za-z0-9_.-]", "-", spec.name))
    runs_root = opts.runs_root.expanduser().resolve()
    return render_template(
        "slurm.sbatch.j2",
        **job_context(spec, spec_path, opts.nccl),
        spec_abs=str(spec.path.resolve()),
        runs_root=str(runs_root),
        batch_log=str(runs_root / f"slurm-{job_name}-%j.out"),
        bindir=str(Path(sys.executable).parent),
        script_name=script_name,
        job_name=job_name,
        time=opts.time,
        partition=_directive("partition", opts.partition),
        account=_directive("account", opts.account),
        port=int(opts.port),
    )


def write_slurm(spec_path: Path, opts: SlurmOptions, output: Path) -> Path:
    """Write the sbatch script (executable) and create the runs folder its batch log goes to."""
    from axowrap.yamlio import atomic_write

    text = slurm_script(spec_path, opts, script_name=output.name)
    if re.search(r"\s", str(opts.runs_root.expanduser().resolve())):
        raise UsageError(f"--runs-dir {opts.runs_root}: #SBATCH --output cannot hold a path with spaces")
    opts.runs_root.expanduser().mkdir(parents=True, exist_ok=True)  # Slurm does not create the log folder
    atomic_write(output, text)
    output.chmod(0o755)
    return output
