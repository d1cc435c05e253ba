"""What the job files (Slurm, SkyPilot) share: the NCCL defaults and the template context
every job file starts from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from axowrap.errors import UsageError

# (name, default, why): each is overridable from the job's environment, or by --env.
NCCL_DEFAULTS = (
    ("NCCL_DEBUG", "WARN", "INFO when debugging hangs"),
    ("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", "a failed rank ends the job instead of hanging it"),
    ("NCCL_SOCKET_IFNAME", "^lo,docker0", "bootstrap over the real network, not loopback/docker"),
    ("NCCL_IB_DISABLE", "0", "use InfiniBand when present (1 on Ethernet-only clusters)"),
)
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:/^@+=-]*\Z")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def nccl_env(overrides: dict[str, str]) -> list[tuple[str, str, str]]:
    """[(name, value, why)]: the defaults, with --env NAME=VALUE replacing or adding."""
    out = {name: (value, why) for name, value, why in NCCL_DEFAULTS}
    for name, value in overrides.items():
        if not NAME.match(name) or not SAFE_VALUE.match(value):
            raise UsageError(f"--env {name}={value}: use NAME=VALUE with a plain value (letters, digits, _.,:/^@+=-)")
        out[name] = (value, "set by --env" if name not in out else f"{out[name][1]} (set by --env)")
    return [(name, value, why) for name, (value, why) in out.items()]


def set_args(spec: Any) -> str:
    """The spec's `--set` overrides as shell words for `axowrap _prepare` (empty without any):
    each quoted; a value holding a control character is refused (it cannot sit in a job file)."""
    import shlex

    texts = list(dict.fromkeys(o.text for o in spec.overrides))
    for text in texts:
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise UsageError(f"--set {text!r}: a job file cannot carry a control character", hint="put it in the spec")
    return "".join(f" --set {shlex.quote(t)}" for t in texts)


def job_context(spec: Any, spec_path: Path, nccl: dict[str, str]) -> dict[str, Any]:
    """Template values every job file uses: provenance, the spec's layout and its overrides."""
    from axowrap import __version__
    from axowrap.distributed.strategy import layout
    from axowrap.run.launch import TRAINER_MODULE

    lay = layout(spec.data)
    return {
        "sets": set_args(spec),
        "version": __version__,
        "spec_path": str(spec_path),
        "spec_sha256": spec.sha256,
        "nodes": lay.nodes,
        "gpus_per_node": lay.gpus_per_node,
        "cpu": lay.is_cpu,
        "strategy": lay.strategy,
        "nccl": nccl_env(nccl),
        "trainer_module": TRAINER_MODULE,
    }


def check_lock_if_any(spec_path: Path, *, packages: bool, overrides: tuple[Any, ...] = ()) -> str | None:
    """Like `run --locked`, for a job file: when the spec has an axowrap.lock, refuse any drift
    from it (the job would train something else than was locked and reviewed). Returns the
    lock's path, or None when there is none."""
    from axowrap.errors import AxowrapError
    from axowrap.team.lock import find_lock, require_locked

    try:
        lock = find_lock(spec_path)
    except AxowrapError:
        return None
    require_locked(spec_path, overrides, packages=packages)
    return str(lock)
