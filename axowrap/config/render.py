"""Render a spec into Axolotl YAML through templates/axolotl.yaml.j2, then parse it back.

Values are computed here (what Axolotl key gets what value for this target); the template
decides layout and comments. Every interpolated value passes through the `yaml` filter, so no
spec value can add or change a key; the output is parsed back and compared with the values
that were meant, and it is byte-for-byte deterministic.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from axowrap import __version__
from axowrap.datafiles import DATA_FILE_TYPES
from axowrap.errors import AxowrapError
from axowrap.targets import Target
from axowrap.templating import render_template
from axowrap.yamlio import Document, parse_yaml

if TYPE_CHECKING:
    from axowrap.config.speed import Speed
    from axowrap.spec.model import Spec

DEFAULT_PROMPT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
DEFAULT_NO_INPUT = "### Instruction:\n{instruction}\n\n### Response:\n"


@dataclass(frozen=True)
class Rendered:
    text: str
    config: dict[str, Any]
    target: Target
    release: Any = None  # axowrap.releases.Release: the Axolotl release it was rendered for
    notes: tuple[str, ...] = ()  # speed defaults turned off, one line each (also comments in the text)
    doc: Document | None = None  # the text parsed back (YAML 1.1, as Axolotl reads it), with line marks


def _shown_path(path: Path, base_dir: Path | None) -> str:
    if base_dir is None:
        return str(path.resolve())
    return os.path.relpath(path.resolve(), base_dir.resolve())


def alpaca_type(entry: dict[str, Any]) -> Any:
    """The Axolotl `type` of an alpaca dataset: `alpaca`, or the user-defined prompt layout."""
    fields = entry.get("fields", {})
    defaults = {"instruction": "instruction", "input": "input", "output": "output"}
    if (
        {k: fields.get(k) for k in defaults} == defaults
        and not entry.get("prompt")
        and not entry.get("system_prompt")
        and "system" not in fields
    ):
        return "alpaca"
    prompt = entry.get("prompt") or DEFAULT_PROMPT
    no_input = DEFAULT_NO_INPUT if not entry.get("prompt") else prompt.replace("{input}", "").replace("\n\n\n", "\n\n")
    out: dict[str, Any] = {"field_instruction": fields["instruction"]}
    if "input" in fields:
        out["field_input"] = fields["input"]
    out["field_output"] = fields["output"]
    if "system" in fields:
        out["field_system"] = fields["system"]
    if entry.get("system_prompt"):
        out["system_prompt"] = entry["system_prompt"]
    out["format"] = prompt
    out["no_input_format"] = no_input
    return out


def dataset_entry(spec: Spec, entry: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    """One Axolotl `datasets:` entry for one spec dataset."""
    from axowrap.config.objective import spec_objective, trainer_dataset

    out: dict[str, Any] = {}
    local = spec.local_path(entry["path"])
    if local is not None:
        out["path"] = _shown_path(local, base_dir)
        out["ds_type"] = DATA_FILE_TYPES.get(local.suffix.lower(), "json")
    else:
        out["path"] = entry["path"]
    for key in ("name", "revision"):
        if key in entry:
            out[key] = entry[key]
    out["split"] = entry.get("split", "train")
    fmt = entry.get("format")
    fields = entry.get("fields", {})
    objective = spec_objective(spec)
    if "type" in entry:
        out["type"] = entry["type"]
    elif objective.name != "sft":
        out.update(trainer_dataset(objective))  # the run directory writes the rows in the trainer's shape
    elif fmt == "alpaca":
        out["type"] = alpaca_type(entry)
    elif fmt in ("messages", "sharegpt"):
        out["type"] = "chat_template"
        out["field_messages"] = fields.get("messages", "messages")
        out["message_property_mappings"] = {
            "role": fields.get("role", "role"),
            "content": fields.get("content", "content"),
        }
        if "tools" in fields:
            out["field_tools"] = fields["tools"]
        if entry.get("roles"):
            out["roles"] = entry["roles"]
        out["roles_to_train"] = ["assistant"]
        out["train_on_eos"] = "turn"
    elif fmt == "text":
        out["type"] = "completion"
        out["field"] = fields.get("text", "text")
    return out


def _kept(entry: dict[str, Any], version: str, rl: str | None) -> dict[str, Any]:
    """Only the keys the dataset model Axolotl reads this entry with keeps (a DPODataset has no
    ds_type, roles or message_property_mappings): the config says what Axolotl will use. A run
    writes the rows in the trainer's own shape first (axowrap/objectives/rows.py), so no
    mapping a spec names is needed there."""
    from axowrap.config.keys import dataset_fields

    _, kept = dataset_fields(version, rl, entry)
    return {k: v for k, v in entry.items() if k in kept}


def _uses_chat_template(spec: Spec) -> bool:
    return any(d.get("format") in ("messages", "sharegpt", "preference", "kto") for d in spec.data["datasets"])


def axolotl_values(
    spec: Spec, target: Target, base_dir: Path | None, speed: Speed | None = None
) -> dict[str, dict[str, Any]]:
    """The Axolotl keys and values for `spec` on `target`, grouped in sections for the template."""
    from axowrap.config.objective import objective_keys, spec_objective, warmup
    from axowrap.config.speed import resolve

    speed = speed or resolve(spec, target)
    d = spec.data
    tr = d["training"]
    lora = d["lora"]
    method = d["method"]
    objective = spec_objective(spec)
    model: dict[str, Any] = {"base_model": model_ref(spec, base_dir)}
    if d.get("revision"):
        model["model_revision"] = d["revision"]
    if method == "qlora":
        model["load_in_4bit"] = True
    if _uses_chat_template(spec):
        model["chat_template"] = d.get("chat_template", "tokenizer_default_fallback_chatml")

    adapter: dict[str, Any] = {}
    if method != "full":
        adapter["adapter"] = "qlora" if method == "qlora" else "lora"
        if method == "dora":
            adapter["peft_use_dora"] = True
        r = lora["r"]
        adapter["lora_r"] = r
        adapter["lora_alpha"] = lora.get("alpha", 2 * r)  # derived, not a default: 2 x r
        adapter["lora_dropout"] = float(lora["dropout"])
        target_modules = lora["target"]
        if target_modules == "all-linear":
            adapter["lora_target_linear"] = True
        else:
            adapter["lora_target_modules"] = list(target_modules)
        # Axolotl silently turns on its Triton LoRA kernels where it can: say what is used,
        # explicitly, for the target (the `lora_kernels` speed switch).
        for kernel in ("lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "lora_embedding_kernel"):
            adapter[kernel] = speed.on["lora_kernels"]

    name = spec.name
    out_dir = d.get("output_dir") or f"outputs/{name}"
    data: dict[str, Any] = {
        "datasets": [_kept(dataset_entry(spec, e, base_dir), spec.axolotl, objective.rl) for e in d["datasets"]],
        "dataset_prepared_path": f"{out_dir}/prepared",
        "val_set_size": 0.0,
        "output_dir": out_dir,
    }
    keys = objective_keys(spec, target)
    if objective.rl:
        data = {"rl": objective.rl, **data}
    elif objective.name == "reward-model":
        data = {"reward_model": True, **data}
    for key in ("skip_prepare_dataset", "remove_unused_columns"):
        if key in keys:
            data[key] = keys.pop(key)

    training: dict[str, Any] = {
        "sequence_len": tr["sequence_len"],
        "sample_packing": bool(tr["sample_packing"]) and objective.packs,
    }
    if training["sample_packing"]:
        training["eval_sample_packing"] = False
        training["pad_to_sequence_len"] = True
    training["num_epochs"] = tr["epochs"]
    if "max_steps" in tr:
        training["max_steps"] = tr["max_steps"]
    training["micro_batch_size"] = tr["micro_batch_size"]
    training["gradient_accumulation_steps"] = tr["gradient_accumulation_steps"]
    training["learning_rate"] = float(tr["learning_rate"])
    training["lr_scheduler"] = tr["lr_scheduler"]
    training.update(warmup(spec, objective))
    training["weight_decay"] = float(tr["weight_decay"])
    training["optimizer"] = optimizer(tr, method, target)
    training.update(keys)  # the objective's strength; GRPO's trl/vllm sections
    if not objective.rl:
        training["train_on_inputs"] = bool(tr["train_on_inputs"])
    training["gradient_checkpointing"] = bool(tr["gradient_checkpointing"])
    training["seed"] = tr["seed"]

    hardware: dict[str, Any] = {}
    if target.is_cpu:
        hardware.update(bf16=False, fp16=False, tf32=False)
    else:
        hardware["bf16"] = "auto" if target.bf16 else False
        hardware["fp16"] = not target.bf16
        hardware["tf32"] = target.tf32
    hardware.update(speed.hardware_keys())

    logging: dict[str, Any] = {"logging_steps": tr["logging_steps"]}
    if "save_steps" in tr:
        logging["save_steps"] = tr["save_steps"]
    else:
        logging["saves_per_epoch"] = 1
    if "save_total_limit" in tr:
        logging["save_total_limit"] = tr["save_total_limit"]
    from axowrap.tracking.keys import axolotl_keys as tracking_keys

    logging.update(tracking_keys(d, spec.base_dir, name))  # W&B/MLflow/TensorBoard; `use_wandb: false` when none
    from axowrap.distributed.strategy import axolotl_keys

    distributed = axolotl_keys(d, target)  # DeepSpeed / FSDP2 / CPU DDP keys; empty for one process
    if "plugins" in distributed:  # one `plugins:` list: the speed plugins, then the layout's
        hardware["plugins"] = [*hardware.get("plugins", []), *distributed.pop("plugins")]
    return {
        "model": model,
        "adapter": adapter,
        "data": data,
        "training": training,
        "hardware": hardware,
        "logging": logging,
        "distributed": distributed,
    }


def model_ref(spec: Spec, base_dir: Path | None) -> str:
    """`base_model` as the config names it: a Hub id, or the local folder relative to `base_dir`."""
    base = spec.data["base_model"]
    local = spec.local_path(base, model=True)
    return base if local is None else _shown_path(local, base_dir)


def optimizer(tr: dict[str, Any], method: str, target: Target) -> str:
    """The optimizer the config uses: the spec's, else the target's default for the method."""
    if "optimizer" in tr:
        return str(tr["optimizer"])
    if target.is_cpu:
        return "adamw_torch"
    return "paged_adamw_8bit" if method == "qlora" else "adamw_torch_fused"


def schema_ref(spec_path: Path, dest: Path | None, version: str) -> str:
    """What the `# yaml-language-server: $schema=` modeline names, so editors find a schema
    on this machine: in a team repo (team.yaml above the spec) its schemas/axolotl.schema.json,
    which `axowrap init` writes; else the installed package's file (`axowrap schema axolotl
    --path`). Relative to `dest`, the file the config is written to, when known; else absolute."""
    from axowrap.repo import SCHEMAS_DIR, find_root, schema_name
    from axowrap.resources import schema_file

    root = find_root(spec_path)
    if root is not None:
        schema = root / SCHEMAS_DIR / schema_name("axolotl")
    else:
        schema = schema_file(f"axolotl-{version}.schema.json")
    if dest is None:
        return schema.resolve().as_uri()
    # A comment line: percent-encoded, so no path can end it (or the modeline) early.
    return quote(Path(os.path.relpath(schema.resolve(), dest.resolve().parent)).as_posix())


def render_spec(
    spec: Spec,
    *,
    target: Target | str | None = None,
    base_dir: Path | None = Path("."),
    dataset_paths: list[Path] | None = None,
    output_dir: str | None = None,
    prepared_dir: str | None = None,
    dest: Path | None = None,
) -> Rendered:
    """The Axolotl config for `spec`: text (deterministic) and the parsed mapping.

    `base_dir` is where Axolotl will run (relative paths are written relative to it; None
    writes absolute paths). A run directory passes `dataset_paths` (the training split, one
    per spec dataset) and its own `output_dir` (and `prepared_dir`, Axolotl's tokenized data,
    when shared). `dest`: the file it will be written to (the schema modeline is relative to it).
    """
    from axowrap.config.objective import spec_objective
    from axowrap.config.speed import resolve

    tgt = spec.target(target)
    speed = resolve(spec, tgt)
    sections = axolotl_values(spec, tgt, base_dir, speed)
    if dataset_paths is not None:
        for entry, path in zip(sections["data"]["datasets"], dataset_paths, strict=True):
            entry["path"] = _shown_path(path, base_dir)
            if "ds_type" in _kept({"ds_type": "json", **entry}, spec.axolotl, spec_objective(spec).rl):
                entry["ds_type"] = DATA_FILE_TYPES.get(path.suffix.lower(), "json")  # DPODataset has none
    if output_dir is not None:
        sections["data"]["output_dir"] = output_dir
        sections["data"]["dataset_prepared_path"] = f"{output_dir}/prepared"
    if prepared_dir is not None:  # a sweep's points share one tokenization of the same rows
        sections["data"]["dataset_prepared_path"] = prepared_dir
    overrides = dict(sorted((spec.data.get("axolotl") or {}).items()))
    replaced = replaced_keys(overrides, sections, spec.axolotl)
    for section in sections.values():
        for key in replaced:
            section.pop(key, None)
    shown = _shown_path(spec.path, base_dir) if base_dir is not None else str(spec.path)
    text = render_template(
        "axolotl.yaml.j2",
        sections=sections,
        overrides=overrides,
        spec_path=shown,
        spec_sha256=spec.sha256,
        version=__version__,
        axolotl_version=spec.axolotl,
        schema_url=schema_ref(spec.path, dest, spec.axolotl),
        overridden=[json.dumps(o.text) for o in spec.overrides],
        replaced=replaced,
        target=tgt,
        task=spec.data["task"],
        notes=speed.notes,
        objective=spec_objective(spec),
        raw_types=all("type" in e for e in spec.data["datasets"]),
    )
    doc = parse_yaml(text, f"{spec.path} (rendered)", yaml12_floats=False)
    parsed = doc.data
    expected = {k: v for section in sections.values() for k, v in section.items()}
    expected.update(overrides)
    if parsed != expected:
        # A template bug, never a user error: the text must mean exactly the computed values.
        diff = sorted(k for k in set(parsed) | set(expected) if parsed.get(k) != expected.get(k))
        raise AxowrapError(f"internal error: rendered YAML does not read back as intended (keys {diff})")
    return Rendered(text=text, config=parsed, target=tgt, release=spec.release, notes=tuple(speed.notes), doc=doc)


def replaced_keys(overrides: dict[str, Any], sections: dict[str, dict[str, Any]], version: str) -> list[str]:
    """Rendered keys a raw `axolotl:` key replaces: those Axolotl refuses beside it (the
    release's `conflicts` table, generated from its validators: `save_steps` replaces the
    rendered `saves_per_epoch`), and `attn_implementation` beside a legacy attention flag."""
    from axowrap.releases import tables

    rendered = {k for section in sections.values() for k in section if k not in overrides}
    table = tables(version)
    pairs = [tuple(c["keys"]) for c in table["conflicts"]]
    pairs += [(flag, "attn_implementation") for flag in table["attention"]["legacy_flags"]]
    out = set()
    for a, b in pairs:
        for raw, other in ((a, b), (b, a)):
            if overrides.get(raw) and other in rendered:
                out.add(other)
    return sorted(out)
