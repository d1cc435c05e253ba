"""Before a multi-node run trains, every node reports its environment; rank 0 compares.

A node's report: package versions (axowrap, python, torch, transformers, ...), CUDA and
driver versions, GPU count, and sha256 of the run's config and data split. Nodes exchange
reports through a torch TCPStore on the main node (port = training port + 1, so no shared
filesystem is needed); rank 0 prints every difference and all nodes refuse to start, since
nodes with different library versions are a common cause of hangs.

    python -m axowrap.launch.envcheck RUN_DIR --rank R --nodes N --main-ip IP --port P [-- CMD...]

With `-- CMD...` the command (accelerate launch ...) runs after a passing check, as a child
process, and its exit code is returned.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.rundir import RunDir

USAGE = "python -m axowrap.launch.envcheck RUN_DIR --rank R --nodes N --main-ip IP --port P [-- CMD...]"
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
    if shutil.which("nvidia-smi"):
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            out["driver"] = (smi.stdout.split() or [None])[0]
        except (OSError, subprocess.TimeoutExpired):
            pass
    return out


def node_report(run: RunDir) -> dict[str, Any]:
    """What must be equal on every node."""
    from axowrap.manifest import dir_sha256, file_sha256, versions

    report: dict[str, Any] = dict(versions())
    for name in EXTRA_PACKAGES:
        try:
            report[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            report[name] = None
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axowrap.launch.envcheck", usage=USAGE)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--main-ip", required=True)
    parser.add_argument("--port", type=int, required=True, help="the exchange port (training port + 1)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        check_nodes(
            RunDir(args.run_dir),
            rank=args.rank,
            nodes=args.nodes,
            host=args.main_ip,
            port=args.port,
            timeout_s=args.timeout,
        )
    except AxowrapError as exc:
        if args.rank == 0:
            print(f"error: {exc.message}\n  hint: {exc.hint}", file=sys.stderr, flush=True)
        else:
            print(f"error: node {args.rank}: environment check failed (rank 0 shows the differences)", file=sys.stderr)
        return 1
    print(f"axowrap-envcheck: node {args.rank}/{args.nodes}: environments match", file=sys.stderr, flush=True)
    if not command:
        return 0
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
