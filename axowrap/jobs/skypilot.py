"""`axowrap launch skypilot`: a SkyPilot task YAML that trains a spec on gpus_per_node x nodes.

Each node installs the pinned stack (from the spec's axowrap.lock, else axowrap's own version),
prepares the run directory from the mounted spec and data (the split is deterministic, so
every node gets the same one), checks that all nodes match, and starts `accelerate launch`
with `--machine_rank $SKYPILOT_NODE_RANK` and the first of `$SKYPILOT_NODE_IPS` as main node.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError, UsageError

REMOTE_ROOT = "/axowrap/job"
REMOTE_RUNS = "/axowrap/runs"
TORCH_PIN = "torch==2.13.0"
# What a lock may pin: PEP 440-like versions of plainly named packages.
VERSION = re.compile(r"[0-9][0-9A-Za-z.+!-]*")
PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class SkyOptions:
    bucket: str | None = None  # a bucket name for the run directory (resume after preemption)
    use_spot: bool = False
    disk_size: int = 256
    port: int = 29500
    install: str | None = None  # pip requirement(s) for axowrap instead of the lock / version pin
    nccl: dict[str, str] = field(default_factory=dict)


def local_files(spec: Any) -> list[Path]:
    """The spec, its base specs, and every local file or folder it names (absolute)."""
    from axowrap.config.render import model_ref

    files = [Path(f).resolve() for f in spec.docs] or [spec.path.resolve()]
    for entry in spec.data.get("datasets") or []:
        local = spec.local_path(entry["path"])
        if local is not None:
            files.append(local.resolve())
    holdout = (spec.data.get("eval") or {}).get("holdout_file")
    if holdout:
        local = spec.local_path(holdout)
        if local is not None:
            files.append(local.resolve())
    targets = spec.targets_file()
    if targets is not None:
        files.append(targets.resolve())
    model = model_ref(spec, None)
    if model.startswith("/"):
        files.append(Path(model))
    return sorted(set(files))


def mounts(spec: Any) -> tuple[list[tuple[str, str]], str]:
    """([(remote, local)], remote spec path): files keep their layout relative to the spec's folder."""
    files = local_files(spec)
    root = Path(os.path.commonpath([spec.path.resolve().parent, *files]))
    if root == Path("/"):
        raise UsageError("the spec's files share no folder but /; keep the spec, data and local model under one folder")

    def remote(path: Path) -> str:
        return f"{REMOTE_ROOT}/{path.relative_to(root).as_posix()}"

    return [(remote(p), str(p)) for p in files], remote(spec.path.resolve())


def install_line(spec_path: Path, override: str | None) -> tuple[str, str, str]:
    """(torch requirement, other requirements, where the pins came from): shell words, each
    quoted. Lock values must be versions: a crafted lock cannot add shell to the setup."""
    from axowrap import __version__
    from axowrap.team.lock import find_lock, read_lock

    if override:
        return TORCH_PIN, " ".join(shlex.quote(word) for word in shlex.split(override)), "from --install"
    try:
        lock_path = find_lock(spec_path)
    except AxowrapError:
        lock_path = None
    if lock_path is None:
        return (
            TORCH_PIN,
            shlex.quote(f"axowrap[train]=={__version__}"),
            f"no axowrap.lock found: axowrap {__version__} and its pins",
        )
    pins = {k: v for k, v in read_lock(lock_path)["packages"].items() if v and k != "python"}
    for name, version in pins.items():
        if not isinstance(version, str) or not VERSION.fullmatch(version) or not PACKAGE.fullmatch(str(name)):
            raise UsageError(
                f"{lock_path}: packages.{name}: {version!r} is not a package version",
                hint="rewrite the lock with `axowrap lock`",
            )
    torch = f"torch=={pins.pop('torch')}" if "torch" in pins else TORCH_PIN
    words = [f"axowrap[train]=={pins.pop('axowrap', __version__)}", *(f"{k}=={v}" for k, v in sorted(pins.items()))]
    return shlex.quote(torch), " ".join(shlex.quote(w) for w in words), f"pinned by {lock_path.name} ({lock_path})"


def setup_script(torch_pin: str, install: str) -> str:
    """The `setup:` commands every node runs (the pins are quoted shell words already)."""
    return "\n".join(
        [
            "set -euo pipefail",
            "python3 -m venv ~/axowrap-venv",
            "~/axowrap-venv/bin/pip install -q --upgrade pip",
            f"~/axowrap-venv/bin/pip install -q {torch_pin}",
            f"~/axowrap-venv/bin/pip install -q {install}",
            "",
        ]
    )


def skypilot_task(spec_path: Path, opts: SkyOptions, file_name: str = "task.yaml") -> str:
    """The SkyPilot task YAML text for the spec at `spec_path` (validated first)."""
    from axowrap.distributed.strategy import layout
    from axowrap.jobs.common import check_lock_if_any, job_context
    from axowrap.templating import render_template
    from axowrap.validate import load_spec

    spec = load_spec(spec_path)
    if opts.install is None:  # the nodes install the lock's pins: its models and data must match too
        check_lock_if_any(spec.path, packages=False)
    lay = layout(spec.data)
    if opts.bucket is not None and not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,62}", opts.bucket):
        raise UsageError(f"--bucket {opts.bucket!r}: a bucket name is lowercase letters, digits, '.', '_' and '-'")
    files, remote_spec = mounts(spec)
    torch_pin, install, pins_from = install_line(spec.path, opts.install)
    target = spec.target()
    if not lay.is_cpu and not target.skypilot:
        raise UsageError(
            f"target {target.name!r} has no SkyPilot accelerator name",
            hint=f"set it under `targets: {{{target.name}: {{skypilot: NAME}}}}` (`sky show-gpus` lists the names)",
        )
    if target.packages:  # the target's own install (e.g. flash-attn, cut-cross-entropy): its speed switches need them
        install += " " + " ".join(shlex.quote(p) for p in target.packages)
        pins_from += f"; plus the packages of target {target.name}"
    name = re.sub(r"[^a-z0-9-]", "-", spec.name.lower()).strip("-") or "axowrap"
    return render_template(
        "skypilot.yaml.j2",
        **job_context(spec, spec_path, opts.nccl),
        file_name=file_name,
        task_name=name,
        accelerators=None if lay.is_cpu else f"{target.skypilot}:{lay.gpus_per_node}",
        disk_size=int(opts.disk_size),
        bucket=opts.bucket,
        use_spot=opts.use_spot,
        mounts=files,
        remote_spec=remote_spec,
        runs_root=REMOTE_RUNS,
        port=int(opts.port),
        setup=setup_script(torch_pin, install),
        pins_from=pins_from,
    )


def write_skypilot(spec_path: Path, opts: SkyOptions, output: Path) -> Path:
    from axowrap.yamlio import atomic_write

    atomic_write(output, skypilot_task(spec_path, opts, file_name=output.name))
    return output
