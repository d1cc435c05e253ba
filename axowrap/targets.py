"""Named target machines (`h100-80gb:8`): what a config is rendered and validated for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from axowrap.errors import UsageError
from axowrap.problems import did_you_mean
from axowrap.resources import PACKAGE_DIR


@dataclass(frozen=True)
class Target:
    name: str
    gpus: int
    nodes: int
    description: str
    vram_gb: float
    bf16: bool
    fp8: bool
    tf32: bool
    compute_capability: str | None
    flash_attention: bool
    tflops: float | None  # dense 16-bit tensor TFLOPs per GPU (None: not a GPU)
    price_per_hour: float | None  # a typical on-demand price per GPU-hour, USD
    skypilot: str | None  # SkyPilot's accelerator name

    @property
    def is_cpu(self) -> bool:
        return self.name == "cpu"

    def capabilities(self) -> dict[str, Any]:
        """Axolotl's `capabilities` dict for validate_config."""
        return {
            "bf16": self.bf16,
            "fp8": self.fp8,
            "tf32": self.tf32,
            "n_gpu": 0 if self.is_cpu else self.gpus * self.nodes,
            "n_node": self.nodes,
            "compute_capability": self.compute_capability,
        }


@cache
def profiles() -> dict[str, dict[str, Any]]:
    with open(PACKAGE_DIR / "targets.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def target_names() -> list[str]:
    return list(profiles())


def get_target(name: str, gpus: int = 1, nodes: int = 1) -> Target:
    prof = profiles().get(name)
    if prof is None:
        guess = did_you_mean(name, profiles())
        raise UsageError(
            f"unknown target {name!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            hint=f"known targets: {', '.join(profiles())}",
        )
    return Target(name=name, gpus=gpus, nodes=nodes, **prof)


def parse_target(text: str) -> Target:
    """`h100-80gb:8` -> Target(h100-80gb, gpus=8)."""
    name, _, count = text.partition(":")
    gpus = 1
    if count:
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"bad target {text!r}: the GPU count after ':' must be a positive integer")
        gpus = int(count)
    return get_target(name, gpus)
