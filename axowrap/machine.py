"""Facts about the machine axowrap runs on, read without importing torch: CPU, memory and the
NVIDIA GPUs `nvidia-smi` reports. The manifest, the multi-node check and the fail-fast checks
before a run read them here."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from typing import Any


def nvidia_smi(*fields: str) -> list[list[str]]:
    """One row per GPU with the asked `--query-gpu` fields ([] without nvidia-smi or on error)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        smi = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [[cell.strip() for cell in line.split(",")] for line in smi.stdout.splitlines() if line.strip()]


def hardware() -> dict[str, Any]:
    """CPU architecture and count, memory, and each GPU's name and memory."""
    out: dict[str, Any] = {"machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count()}
    try:
        out["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    out["gpus"] = [", ".join(row) for row in nvidia_smi("name", "memory.total")]
    return out


def gpu_driver() -> str | None:
    rows = nvidia_smi("driver_version")
    return rows[0][0] if rows and rows[0] else None
