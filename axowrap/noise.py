"""Known-harmless warnings of the training stack, kept off the terminal (never out of the logs).

Each entry was seen with Axolotl 0.19.0 on this package's pinned stack, and says why it is
harmless. `NoiseFilter` drops them from a child's output as shown on the terminal (step logs
keep every line); `install_log_filters` drops the same records when a command imports the
stack in-process (`validate --deep`). `--verbose` shows everything.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Noise:
    name: str
    start: re.Pattern[str]  # the line that starts it
    logger: str | None = None  # the Python logger that emits it in-process
    until: re.Pattern[str] | None = None  # further lines dropped up to and including this one
    more: re.Pattern[str] | None = None  # further lines dropped while they match
    why: str = ""


NOISE: tuple[Noise, ...] = (
    Noise(
        "torchao-binaries",
        re.compile(r"Failed to load \S*torchao/_C\w*\.\S*\.so"),
        logger="torchao",
        why="torchao 0.x ships CPython-3.10 / sm90a kernel binaries; only its mxfp8 and CUTLASS "
        "kernels need them, which axowrap never enables",
    ),
    Noise(
        "torch-pytree-enum",
        re.compile(r"is an Enum subclass and is now natively supported by torch\.compile"),
        logger="torch.utils._pytree",
        why="a deprecation notice about how torchao registers its enums with torch",
    ),
    Noise(
        "bitsandbytes-hub-kernel",
        re.compile(r"Failed to load CPU gemm_4bit_forward from kernels-community"),
        logger="bitsandbytes.backends.cpu.ops",
        why="bitsandbytes tries a CPU 4-bit kernel from the Hub (offline: refused) and keeps its built-in one",
    ),
    Noise(
        "accelerate-defaults",
        re.compile(r"^The following values were not passed to `accelerate launch`"),
        more=re.compile(r"^\t|^To avoid this warning pass in values"),
        why="accelerate lists the defaults it used (CPU threads); axowrap passes what it means to set",
    ),
    Noise(
        "axolotl-config-dump",
        re.compile(r"\[axolotl\.cli\.config\] config:\s*$"),
        until=re.compile(r"^\}\s*$"),
        why="Axolotl prints its whole normalised config (~200 lines); the run directory holds axolotl.yaml",
    ),
    Noise(
        "axolotl-hub-token-check",
        re.compile(r"\[axolotl\.cli\.checks\] Error verifying HuggingFace token"),
        why="Axolotl checks for a Hub token at every start; `axowrap doctor` reports it, push checks it",
    ),
    Noise(
        "cpu-pin-memory",
        re.compile(r"'pin_memory' argument is set as true but no accelerator is found"),
        more=re.compile(r"^  \S"),  # the warning's source line
        why="on CPU there is no device memory to pin; the dataloader works the same",
    ),
)


class NoiseFilter:
    """Feed it a child's output lines in order; `keep` says which to show."""

    def __init__(self, table: tuple[Noise, ...] = NOISE) -> None:
        self.table = table
        self.until: re.Pattern[str] | None = None
        self.more: re.Pattern[str] | None = None
        self.dropped = 0

    def keep(self, line: str) -> bool:
        if self.until is not None:
            if self.until.search(line):
                self.until = None
            self.dropped += 1
            return False
        if self.more is not None:
            if self.more.search(line):
                self.dropped += 1
                return False
            self.more = None
        for noise in self.table:
            if noise.start.search(line):
                self.until, self.more = noise.until, noise.more
                self.dropped += 1
                return False
        return True


class _LogFilter(logging.Filter):
    def __init__(self, noise: Noise) -> None:
        super().__init__()
        self.noise = noise

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format itself is not ours to judge
            return True
        return not self.noise.start.search(message)


_INSTALLED: list[tuple[logging.Logger, logging.Filter]] = []


def install_log_filters() -> None:
    """Drop the in-process records of NOISE (their loggers need not exist yet)."""
    if _INSTALLED:
        return
    for noise in NOISE:
        if noise.logger:
            logger = logging.getLogger(noise.logger)
            flt = _LogFilter(noise)
            logger.addFilter(flt)
            _INSTALLED.append((logger, flt))


def remove_log_filters() -> None:
    while _INSTALLED:
        logger, flt = _INSTALLED.pop()
        logger.removeFilter(flt)
