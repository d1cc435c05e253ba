"""Before a multi-node run trains, every node reports its environment; rank 0 compares.

A node's report: package versions (axowrap, python, torch, transformers, ...), CUDA and
driver versions, GPU count, and sha256 of the run's config and data split. Nodes exchange
reports through a torch TCPStore on the main node (port = training port + 1, so no shared
filesystem is needed); rank 0 prints every difference and all nodes refuse to start, since
nodes with different library versions are a common cause of hangs.

    axowrap _envcheck RUN_DIR --rank R --nodes N --main-ip IP --port P [-- CMD...]

With `-- CMD...` the command (accelerate launch ...) runs after a passing check, as a child
process, and its exit code is returned.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.machine import gpu_driver
from axowrap.run.rundir import RunDir

EXTRA_PACKAGES = ("deepspeed", "torchao", "bitsandbytes", "flash-attn")
TIMEOUT_S = 600


def _cuda() -> dict[str, Any]:
    out: dict[str, Any] = {"cuda": None, "driver": None, "gpu_count": 0}
    try:
        import torch

        out["cuda"] = torch.version.cuda
        out["gpu_count"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        pass
    out["driver"] = gpu_driver()
    return out


def node_report(run: RunDir) -> dict[str, Any]:
    """What must be equal on every node."""
    from axowrap.hashing import dir_sha256, file_sha256
    from axowrap.versions import package_version, versions

    report: dict[str, Any] = dict(versions())
    report.update((name, package_version(name)) for name in EXTRA_PACKAGES)
    report.update(_cuda())
    report["config_sha256"] = file_sha256(run.config) if run.config.is_file() else None
    report["data_sha256"] = dir_sha256(run.data) if run.data.is_dir() else None
    return report


def differences(reports: dict[int, dict[str, Any]]) -> list[str]:
    """One line per key whose value is not the same on every node."""
    lines = []
    keys = sorted({k for r in reports.values() for k in r})
    for key in keys:
        values = {rank: r.get(key) for rank, r in sorted(reports.items())}
        if len(set(map(json.dumps, values.values()))) > 1:
            lines.append(f"{key}: " + ", ".join(f"node {rank} {value}" for rank, value in values.items()))
    return lines


def exchange(
    report: dict[str, Any], *, rank: int, nodes: int, host: str, port: int, timeout_s: float = TIMEOUT_S
) -> list[str]:
    """Share `report` with every node; returns the differences rank 0 found (same list on all)."""
    from torch.distributed import TCPStore

    store = TCPStore(host, port, nodes, rank == 0, timeout=timedelta(seconds=timeout_s), wait_for_workers=False)
    store.set(f"env/{rank}", json.dumps(report, sort_keys=True))
    if rank == 0:
        keys = [f"env/{r}" for r in range(nodes)]
        store.wait(keys)
        reports = {r: json.loads(store.get(f"env/{r}")) for r in range(nodes)}
        diffs = differences(reports)
        store.set("verdict", json.dumps(diffs))
        store.wait([f"ack/{r}" for r in range(1, nodes)])  # the store lives as long as rank 0 does
        return diffs
    store.wait(["verdict"])
    diffs = json.loads(store.get("verdict"))
    store.set(f"ack/{rank}", "1")
    return list(diffs)


def check_nodes(run: RunDir, *, rank: int, nodes: int, host: str, port: int, timeout_s: float = TIMEOUT_S) -> None:
    """Raise AxowrapError (on every node) when the nodes' environments differ."""
    diffs = exchange(node_report(run), rank=rank, nodes=nodes, host=host, port=port, timeout_s=timeout_s)
    if diffs:
        raise AxowrapError(
            f"the {nodes} nodes differ; refusing to start training:\n  " + "\n  ".join(diffs),
            hint="install the same versions on every node (e.g. from the spec's lock) and use the same data",
        )


def check_and_run(
    run_dir: Path,
    *,
    rank: int,
    nodes: int,
    host: str,
    port: int,
    timeout_s: float | None = None,
    command: Sequence[str] = (),
) -> int:
    """`axowrap _envcheck`: check the nodes, then run `command` (its exit code; 0 without one).
    Rank 0 names every difference; the other ranks point to it."""
    from axowrap.run.child import run_child

    try:
        check_nodes(RunDir(run_dir), rank=rank, nodes=nodes, host=host, port=port, timeout_s=timeout_s or TIMEOUT_S)
    except AxowrapError:
        if rank == 0:
            raise
        raise AxowrapError(f"node {rank}: environment check failed (rank 0 shows the differences)") from None
    print(f"axowrap-envcheck: node {rank}/{nodes}: environments match", file=sys.stderr, flush=True)
    args = [a for a in command if a != "--"] if command[:1] == ("--",) else list(command)
    if not args:
        return 0
    return run_child(args, log=None, as_given=True).code
