"""Shared helpers for benchmarks: timing child processes, describing the machine, targets."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def time_cmd(argv: Sequence[str], *, repeat: int, cwd: Path | None = None, env: dict | None = None) -> list[float]:
    """Wall seconds of `repeat` cold runs of argv (each a fresh process)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(list(argv), cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


class Targets:
    """Collects pass/fail of stated targets; exit code 1 if any missed."""

    def __init__(self) -> None:
        self.missed: list[str] = []

    def check(self, name: str, ok: bool, detail: str) -> None:
        print(f"  [{'PASS' if ok else 'MISS'}] {name}: {detail}")
        if not ok:
            self.missed.append(name)


def load() -> str:
    """The 1-minute load average now (`uptime`'s first figure): the machine is shared, so every
    figure is printed beside it."""
    try:
        return f"load {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load unknown"


def axolotl_help(repeat: int = 3, env: dict[str, str] | None = None) -> float | None:
    """Median cold `axolotl --help` (the reference beside axowrap's own figures), or None;
    one untimed run first, so the .pyc files `env` allows exist."""
    import shutil
    import sys

    exe = Path(sys.executable).parent / "axolotl"
    found = str(exe) if exe.exists() else shutil.which("axolotl")
    if found is None:
        return None
    time_cmd([found, "--help"], repeat=1, env=env)
    return median(time_cmd([found, "--help"], repeat=repeat, env=env))
