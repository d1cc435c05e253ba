"""Which speed switches a spec gets on a target, and the Axolotl keys they render to.

Each switch (axowrap/speed.py) is on when the target lists it in `speed:` and the spec does
not say `false`, unless something rules it out: the GPU (compute capability, bf16/fp16), the
method or trainer, or the model type (the integration's own list, read from the installed
packages). A default that is ruled out is turned off with a one-line note; a switch the spec
asks for with `true` that is ruled out is a problem. The model type comes from a local model
folder's config.json or the built-in table, never from the network or the cache, so a
spec renders the same everywhere.

Liger's fused linear cross-entropy is the default loss, not cut cross-entropy: both avoid the
full logits, but Liger ships with Axolotl 0.19.0 (`liger-kernel==0.8.1` is one of its
dependencies) while cut cross-entropy needs Axolotl's fork installed from git, and Axolotl
refuses the two together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from axowrap.objectives import objective_of
from axowrap.speed import CCE_PLUGIN, LIGER_PLUGIN, LOSS_SWITCHES, SWITCHES, model_unsupported, unmet_need
from axowrap.targets import Target

Path_ = tuple[str, ...]


@dataclass
class Speed:
    """The switches' states for one spec on one target."""

    on: dict[str, bool]
    attention: str  # what attn_implementation renders to
    model_type: str | None
    notes: list[str] = field(default_factory=list)  # defaults turned off, one line each
    conflicts: list[tuple[Path_, str, str]] = field(default_factory=list)  # (path, message, hint)

    def hardware_keys(self) -> dict[str, Any]:
        """Keys of the rendered config's hardware section (LoRA kernels go with the adapter)."""
        out: dict[str, Any] = {"attn_implementation": self.attention}
        plugins = []
        if self.on["liger"] or self.on["fused_cross_entropy"]:
            plugins.append(LIGER_PLUGIN)
        if self.on["cut_cross_entropy"]:
            plugins.append(CCE_PLUGIN)
        if plugins:
            out["plugins"] = plugins
        if LIGER_PLUGIN in plugins:
            for key in ("liger_rope", "liger_rms_norm", "liger_glu_activation"):
                out[key] = self.on["liger"]
            out["liger_fused_linear_cross_entropy"] = self.on["fused_cross_entropy"]
        if self.on["cut_cross_entropy"]:
            out["cut_cross_entropy"] = True
        if self.on["compile"]:
            out["torch_compile"] = True
        return out

    @property
    def loss(self) -> str:
        """What the plan counts for the loss: full logits, Liger's chunks, or CCE."""
        return "fused" if self.on["fused_cross_entropy"] else "cut" if self.on["cut_cross_entropy"] else "full"


def model_type(spec: Any) -> str | None:
    """The base model's config.json `model_type`: a local folder's, else the built-in table's."""
    from axowrap.plan.families import find_family

    base = str(spec.data["base_model"])
    local = spec.local_path(base, model=True)
    if local is not None:
        try:
            value = json.loads((local / "config.json").read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError, AttributeError):
            return None
        return str(value) if value else None
    family = find_family(base)
    return str(family.config.get("model_type")) if family else None


def _blocked(name: str, spec: Any, target: Target, mtype: str | None) -> str | None:
    """Why switch `name` cannot be on for this spec and target (None: it can)."""
    switch = SWITCHES[name]
    half = target.bf16 or not target.is_cpu
    why = unmet_need(switch, target.compute_capability, half, not target.is_cpu)
    if why:
        return f"{target.name}: {why}"
    method = spec.data["method"]
    overrides = spec.data.get("axolotl") or {}
    if name == "flash_attention" and not target.flash_attention:
        return f"{target.name} runs {target.attention} (its `attention`)"
    if switch.adapter and method == "full":
        return "a full fine-tune has no LoRA layers"
    trainer = objective_of(spec.preset).name  # sft, or a preference / KTO / reward-model / GRPO trainer
    if name == "fused_cross_entropy" and trainer != "sft":
        return f"the {trainer} trainer computes its loss from the full logits (Liger's fused loss serves SFT)"
    if name == "lora_kernels":
        if trainer != "sft":
            return f"Axolotl does not use its LoRA kernels with the {trainer} trainer"
        if overrides.get("load_in_8bit"):
            return "Axolotl refuses its LoRA kernels with 8-bit LoRA"
        if overrides.get("trust_remote_code"):
            return "Axolotl refuses its LoRA kernels with trust_remote_code"
    return model_unsupported(switch, mtype)


def resolve(spec: Any, target: Target) -> Speed:
    asked: dict[str, Any] = spec.data.get("speed") or {}
    mtype = model_type(spec)
    on: dict[str, bool] = {}
    speed = Speed(on=on, attention="sdpa", model_type=mtype)
    for name in SWITCHES:
        want = asked.get(name)
        default = name in target.speed
        if name == "fused_cross_entropy" and asked.get("cut_cross_entropy") is True and want is None:
            default = False  # the spec chose the other loss
        why = _blocked(name, spec, target, mtype) if (want or (want is None and default)) else None
        if want is True and why:
            speed.conflicts.append(
                (
                    ("speed", name),
                    f"{name} cannot be on: {why}",
                    f"remove `speed.{name}: true` (or pick another target)",
                )
            )
        elif want is None and default and why:
            speed.notes.append(f"speed: {name} off ({why})")
        on[name] = bool((want if want is not None else default) and not why)
    if all(asked.get(n) is True for n in LOSS_SWITCHES):
        speed.conflicts.append(
            (
                ("speed", "cut_cross_entropy"),
                "fused_cross_entropy and cut_cross_entropy are alternatives; Axolotl refuses both",
                "keep one: set the other to false",
            )
        )
    if on["flash_attention"]:
        speed.attention = target.attention
    return speed
