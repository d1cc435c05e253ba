"""Task presets: data files in axowrap/presets/, one per task, over a shared _base.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from axowrap.resources import presets_dir
from axowrap.yamlio import safe_load


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    dataset: dict[str, Any]
    defaults: dict[str, Any]
    rl: str | None = None  # Axolotl's `rl:` (dpo, ipo, simpo, orpo, kto, grpo); None: supervised
    reward_model: bool = False  # Axolotl's `reward_model: true`: a scorer trained on pairs
    example_data: str | None = None
    base_defaults: dict[str, Any] = field(default_factory=dict)  # _base.yaml: defaults + optional
    restored: dict[str, Any] = field(default_factory=dict)  # _base.yaml `defaults`: back after a `null`


def _read(name: str) -> dict[str, Any]:
    with open(presets_dir() / f"{name}.yaml", encoding="utf-8") as fh:
        return safe_load(fh.read()) or {}


def _base_layer() -> dict[str, Any]:
    from axowrap.spec.layers import layered

    base = _read("_base")
    merged, _ = layered([("defaults", base.get("defaults", {})), ("optional", base.get("optional", {}))])
    return merged


@cache
def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in presets_dir().glob("*.yaml") if not p.stem.startswith("_")))


@cache
def get_preset(name: str) -> Preset:
    data = _read(name)
    return Preset(
        name=name,
        summary=data["summary"],
        dataset=data.get("dataset", {}),
        defaults=data.get("defaults", {}),
        rl=data.get("rl"),
        reward_model=bool(data.get("reward_model", False)),
        example_data=data.get("example_data"),
        base_defaults=_base_layer(),
        restored=_read("_base").get("defaults", {}),
    )
