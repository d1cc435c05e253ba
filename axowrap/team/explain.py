"""`axowrap render SPEC --explain KEY`: where a value came from.

The answer is one of: a preset default (every task, or the task's preset), a base spec (a file
reached through `extends:`, with its line), the spec itself (with its line), a target
adjustment (a value axowrap chooses for the target GPU), or a fixed value axowrap always writes.
KEY is an Axolotl key of the rendered config (`lora_r`) or a spec key path (`training.epochs`,
`datasets[0].format`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axowrap.errors import UsageError
from axowrap.problems import Path_, did_you_mean, format_path, value_at
from axowrap.spec.edit import NOTE
from axowrap.spec.overrides import Override, is_override, parse_key

# Axolotl key -> the spec key it is computed from (keys not here are fixed or target-chosen).
FROM_SPEC: dict[str, Path_] = {
    "base_model": ("base_model",),
    "model_revision": ("revision",),
    "chat_template": ("chat_template",),
    "load_in_4bit": ("method",),
    "adapter": ("method",),
    "peft_use_dora": ("method",),
    "lora_r": ("lora", "r"),
    "lora_alpha": ("lora", "alpha"),
    "lora_dropout": ("lora", "dropout"),
    "lora_target_linear": ("lora", "target"),
    "lora_target_modules": ("lora", "target"),
    "datasets": ("datasets",),
    "output_dir": ("output_dir",),
    "dataset_prepared_path": ("output_dir",),
    "rl": ("task",),
    "num_epochs": ("training", "epochs"),
    "rl_beta": ("training", "beta"),
    "orpo_alpha": ("training", "beta"),
    **{
        k: ("training", k)
        for k in (
            "sequence_len",
            "sample_packing",
            "max_steps",
            "micro_batch_size",
            "gradient_accumulation_steps",
            "learning_rate",
            "lr_scheduler",
            "warmup_ratio",
            "weight_decay",
            "optimizer",
            "train_on_inputs",
            "gradient_checkpointing",
            "seed",
            "logging_steps",
            "save_steps",
            "save_total_limit",
        )
    },
}
# Sections of render.axolotl_values whose values axowrap picks for the target machine.
TARGET_SECTIONS = ("hardware", "distributed")
TARGET_KEYS = frozenset({"lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel", "optimizer"})


def _shown(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def describe_layer(spec: Any, label: str, path: Path_) -> str:
    """A layer label from Spec.sources, in words, with file:line for files."""
    if label == "preset _base":
        return "preset default (every task)"
    if label.startswith("preset "):
        return f"preset default of task {label.removeprefix('preset ')!r}"
    if is_override(label):
        return f"the command line ({label})"
    doc = spec.docs.get(label)
    line = doc.mark(path)[0] if doc is not None else None
    where = f"{label}:{line}" if line else label
    note = _note_above(doc, line, path)
    if note:
        where += f"; {note}"
    return f"the spec itself ({where})" if label == spec.doc.file else f"base spec {where} (via extends)"


def _note_above(doc: Any, line: int | None, path: Path_) -> str | None:
    """The `# axowrap: KEY ...` comment about `path` above its line (`sweep promote` writes them)."""
    if doc is None or not line:
        return None
    lines = doc.text.splitlines()
    i = line - 2
    while i >= 0 and lines[i].strip().startswith(NOTE):
        note = lines[i].strip().removeprefix(NOTE).strip()
        if note.startswith(f"{format_path(path)} "):
            return note
        i -= 1
    return None


def _layers_setting(spec: Any, path: Path_) -> list[tuple[str, Any]]:
    """Every layer that sets `path` (presets first, then spec files), with its value."""
    preset = spec.preset
    layers = [("preset _base", preset.base_defaults), (f"preset {preset.name}", preset.defaults)]
    layers += [(file, doc.data) for file, doc in reversed(spec.docs.items())]
    found = [(label, value) for label, data in layers for ok, value in [value_at(data, path)] if ok]
    for override in spec.overrides:  # the topmost layer
        n = min(len(path), len(override.path))
        if tuple(path[:n]) == tuple(override.path[:n]):
            ok, value = (
                value_at(override.value, tuple(path[len(override.path) :]))
                if len(path) >= len(override.path)
                else (True, override.value)
            )
            if ok:
                found.append((override.label, value))
    return found


def _spec_origin(spec: Any, path: Path_) -> list[str]:
    from axowrap.yamlemit import to_yaml

    winner = spec.source_of(path)
    lines = [f"  set by: {describe_layer(spec, winner, path)}"]
    for label, value in _layers_setting(spec, path):
        if label != winner:
            lines.append(f"  overrides: {describe_layer(spec, label, path)} = {to_yaml(value)}")
    return lines


def explain(spec: Any, config: dict[str, Any], sections: dict[str, dict[str, Any]], target: Any, key: str) -> str:
    """The explanation for one KEY (see the module docstring)."""
    from axowrap.yamlemit import to_yaml

    overrides = spec.data.get("axolotl") or {}
    if key in config:
        head = f"{key}: {to_yaml(config[key])}"
        if key in overrides:
            return "\n".join(
                [
                    head,
                    f"  from the spec's axolotl: section (axolotl.{key}), written as is",
                    *_spec_origin(spec, ("axolotl", key)),
                ]
            )
        path = FROM_SPEC.get(key)
        if path is not None and value_at(spec.data, path)[0]:
            return "\n".join([head, f"  from spec key {_shown(path)}", *_spec_origin(spec, path)])
        if key in TARGET_KEYS or any(key in sections.get(s, {}) for s in TARGET_SECTIONS):
            found = value_at(spec.data, ("compute", "target"))[0]
            why = (
                describe_layer(spec, spec.source_of(("compute", "target")), ("compute", "target"))
                if found
                else "the default"
            )
            return "\n".join(
                [
                    head,
                    f"  target adjustment: axowrap's choice for target {target.name} x{target.gpus}",
                    f"  compute.target set by: {why}",
                ]
            )
        if path is not None:
            return f"{head}\n  axowrap default: spec key {_shown(path)} is not set by any layer"
        return f"{head}\n  fixed by axowrap for every spec (not a spec setting)"
    path = parse_key(key)
    found, value = value_at(spec.data, path)
    if not found:
        guess = did_you_mean(key, [*config, *(_shown(p) for p in spec.sources)])
        raise UsageError(
            f"{key!r} is neither a key of the rendered config nor set in the spec"
            + (f"; did you mean {guess!r}?" if guess else ""),
            hint="Axolotl keys as in the rendered config (lora_r), spec keys as paths (training.epochs)",
        )
    return "\n".join([f"{_shown(path)}: {to_yaml(value)}", *_spec_origin(spec, path)])


def explain_keys(
    spec_path: Path, keys: list[str], *, target: str | None = None, overrides: tuple[Override, ...] = ()
) -> str:
    """Explanations for `keys` of the spec at `spec_path` (with `--set` overrides), one block each."""
    from axowrap.config.render import axolotl_values, render_spec
    from axowrap.validate import load_spec

    spec = load_spec(spec_path, overrides=overrides)
    tgt = spec.target(target)
    rendered = render_spec(spec, target=tgt)
    sections = axolotl_values(spec, tgt, Path("."))
    return "".join(explain(spec, rendered.config, sections, tgt, key) + "\n" for key in keys)
