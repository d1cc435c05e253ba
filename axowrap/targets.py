"""Named target machines (`h100-80gb:8`): what a config is rendered, validated and planned for.

Three layers, later ones winning field by field: the built-in table (targets.yaml), this
machine's calibration file (`plan --calibrate` writes `mfu` and `overhead_gb` there, nothing
else), and a spec's `targets:` (a team's own machines, usually in team.yaml).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from axowrap.errors import UsageError
from axowrap.problems import did_you_mean
from axowrap.resources import PACKAGE_DIR
from axowrap.speed import SWITCHES, unmet_need

ATTENTION = ("sdpa", "flash_attention_2", "flash_attention_3")
# Profile fields: (accepted types, default for a team's new target; REQUIRED: must be given).
REQUIRED = object()
FIELDS: dict[str, tuple[tuple[type, ...], Any]] = {
    "description": ((str,), None),
    "vram_gb": ((int, float), REQUIRED),
    "bf16": ((bool,), False),
    "fp8": ((bool,), False),
    "tf32": ((bool,), False),
    "compute_capability": ((str, type(None)), None),
    "attention": ((str,), "sdpa"),
    "speed": ((list,), []),
    "tflops": ((int, float, type(None)), None),
    "price_per_hour": ((int, float, type(None)), None),
    "skypilot": ((str, type(None)), None),
    "packages": ((list,), []),  # distributions its install has beyond axowrap[train]
    "mfu": ((int, float, type(None)), None),  # measured model-FLOPs utilization (plan --calibrate)
    "overhead_gb": ((int, float, type(None)), None),  # measured memory beyond the plan's parts
}
CALIBRATION_FIELDS = ("mfu", "overhead_gb")


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
    attention: str  # sdpa | flash_attention_2 | flash_attention_3
    speed: tuple[str, ...]  # speed switches on by default
    tflops: float | None  # dense 16-bit tensor TFLOPs per GPU (None: not a GPU)
    price_per_hour: float | None  # a typical on-demand price per GPU-hour, USD
    skypilot: str | None  # SkyPilot's accelerator name
    packages: tuple[str, ...] = ()
    mfu: float | None = None
    overhead_gb: float | None = None
    origin: dict[str, str] = field(default_factory=dict, compare=False, hash=False)  # field -> layer

    @property
    def is_cpu(self) -> bool:
        return self.name == "cpu" or not self.vram_gb

    @property
    def flash_attention(self) -> bool:
        return self.attention.startswith("flash_attention")

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
    """The built-in table."""
    with open(PACKAGE_DIR / "targets.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def target_names() -> list[str]:
    return list(profiles())


def calibration_path() -> Path:
    """This machine's calibration file: $AXOWRAP_CALIBRATION, else ~/.config/axowrap/calibration.yaml."""
    if os.environ.get("AXOWRAP_CALIBRATION"):
        return Path(os.environ["AXOWRAP_CALIBRATION"]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config).expanduser() / "axowrap" / "calibration.yaml"


def calibration() -> dict[str, dict[str, Any]]:
    """{target: {mfu, overhead_gb, ...}} from the calibration file ({} when there is none)."""
    path = calibration_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the calibration file: {exc}", hint="fix or delete it") from None
    found = (data or {}).get("targets") if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise UsageError(f"{path}: expected a mapping `targets: {{NAME: {{mfu: ..., overhead_gb: ...}}}}`")
    out: dict[str, dict[str, Any]] = {}
    for name, values in found.items():
        if isinstance(values, dict):
            out[str(name)] = {k: values[k] for k in CALIBRATION_FIELDS if k in values}
    return out


def profile_problems(name: str, profile: Any, *, new: bool) -> list[tuple[tuple[str, ...], str]]:
    """What is wrong with a team's target entry: [(key path below the name, message)]."""
    if not isinstance(profile, dict):
        return [((), f"a target is a mapping of fields ({', '.join(FIELDS)}), not {type(profile).__name__}")]
    out: list[tuple[tuple[str, ...], str]] = []
    for key, value in profile.items():
        if key not in FIELDS:
            guess = did_you_mean(str(key), FIELDS)
            out.append(((key,), f"unknown target field {key!r}" + (f"; did you mean {guess!r}?" if guess else "")))
            continue
        kinds = FIELDS[key][0]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            out.append(((key,), f"{key} must be {' or '.join(k.__name__ for k in kinds)}, not {value!r}"))
        elif key == "attention" and value not in ATTENTION:
            out.append(((key,), f"attention {value!r} is not one of {', '.join(ATTENTION)}"))
        elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
            out.append(((key,), f"{key} must be a list of names"))
        elif key == "speed" and isinstance(value, list):
            for v in value:
                if v not in SWITCHES:
                    guess = did_you_mean(v, SWITCHES)
                    out.append(
                        ((key,), f"unknown speed switch {v!r}" + (f"; did you mean {guess!r}?" if guess else ""))
                    )
    if new:
        missing = [k for k, (_, default) in FIELDS.items() if default is REQUIRED and k not in profile]
        out.extend(((), f"a new target needs {k!r} (GPU memory in GB)") for k in missing)
    return out


def capability_problems(target: Target) -> list[tuple[str, str]]:
    """[(field, message)] where the target's defaults ask for what its GPU cannot do."""
    out = []
    half = target.bf16 or not target.is_cpu  # fp16 runs on any GPU
    for name in target.speed:
        why = unmet_need(SWITCHES[name], target.compute_capability, half, not target.is_cpu)
        if why:
            out.append(("speed", f"speed switch {name!r} cannot be on by default for {target.name}: {why}"))
    if target.attention == "flash_attention_3" and target.compute_capability != "sm_90":
        out.append(("attention", f"flash_attention_3 runs on Hopper (sm_90) only, not {target.compute_capability}"))
    elif target.flash_attention:
        why = unmet_need(SWITCHES["flash_attention"], target.compute_capability, half, not target.is_cpu)
        if why:
            out.append(("attention", f"{target.attention} cannot run on {target.name}: {why}"))
    return out


def merged_profiles(extra: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Built-in profiles, then calibration, then `extra` (a spec's `targets:`), field by field;
    each profile records under `origin` which layer set each field."""
    out: dict[str, dict[str, Any]] = {}
    for name, prof in profiles().items():
        out[name] = {**prof, "origin": dict.fromkeys(prof, "built-in")}
    layers: list[tuple[str, Mapping[str, Any]]] = [(str(calibration_path()), calibration())]
    if extra:
        layers.append(("spec", extra))
    for label, layer in layers:
        for name, values in layer.items():
            if not isinstance(values, dict):
                continue
            if name not in out:
                base = {k: default for k, (_, default) in FIELDS.items() if default is not REQUIRED}
                out[name] = {**base, "description": name, "origin": {}}
            for key, value in values.items():
                if key in FIELDS:
                    out[name][key] = value
                    out[name]["origin"][key] = label
    return out


def get_target(name: str, gpus: int = 1, nodes: int = 1, extra: Mapping[str, Any] | None = None) -> Target:
    known = merged_profiles(extra)
    prof = known.get(name)
    if prof is None or "vram_gb" not in prof:
        guess = did_you_mean(name, known)
        raise UsageError(
            f"unknown target {name!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            hint=f"known targets: {', '.join(known)}; a team adds its own under `targets:` in team.yaml",
        )
    values = {k: prof.get(k, default) for k, (_, default) in FIELDS.items() if default is not REQUIRED}
    values["vram_gb"] = prof["vram_gb"]
    values["description"] = prof.get("description") or name
    values["speed"] = tuple(values["speed"] or ())
    values["packages"] = tuple(values["packages"] or ())
    return Target(name=name, gpus=gpus, nodes=nodes, origin=dict(prof.get("origin", {})), **values)


def parse_target(text: str, extra: Mapping[str, Any] | None = None) -> Target:
    """`h100-80gb:8` -> Target(h100-80gb, gpus=8); `extra` adds a spec's own targets."""
    name, _, count = text.partition(":")
    gpus = 1
    if count:
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"bad target {text!r}: the GPU count after ':' must be a positive integer")
        gpus = int(count)
    return get_target(name, gpus, extra=extra)
