"""The argv and environment that start Axolotl training for a spec.

`launch_argv` is what the train step runs, as a child process (never exec). This first
version covers one process (CPU or one GPU); multi-GPU/multi-node extends it here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# Offline-safe, telemetry off unless the spec turns it on (see the train step).
BASE_ENV = {
    "DO_NOT_TRACK": "1",
    "AXOLOTL_DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "PYTHONUNBUFFERED": "1",
}


def launch_argv(spec: dict[str, Any], config_path: Path) -> tuple[list[str], dict[str, str]]:
    """(argv, env changes) for `accelerate launch -m axolotl.cli.train CONFIG`."""
    bindir = Path(sys.executable).parent
    accelerate = str(bindir / "accelerate")
    compute = spec.get("compute") or {}
    argv = [accelerate, "launch", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if compute.get("target") == "cpu":
        argv.append("--cpu")
    argv += ["-m", "axolotl.cli.train", str(config_path)]
    env = dict(BASE_ENV)
    return argv, env
