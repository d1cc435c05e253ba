"""Model cards: front matter + body for each uploaded repo, rendered from templates/modelcard.md.j2.

The front matter is computed here as data (so it can be checked), written through the `yaml`
filter, parsed back with huggingface_hub.ModelCard, and must round-trip exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.spec.model import local_path

RELATION = {"adapter": "adapter", "merged": "finetune", "gguf": "quantized"}
LIBRARY = {"adapter": "peft", "merged": "transformers", "gguf": "gguf"}
TITLE = {"adapter": "LoRA adapter", "merged": "merged model", "gguf": "GGUF files"}
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*\Z")
HYPERPARAMETERS = (
    "adapter",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_linear",
    "lora_target_modules",
    "learning_rate",
    "optimizer",
    "lr_scheduler",
    "num_epochs",
    "max_steps",
    "micro_batch_size",
    "gradient_accumulation_steps",
    "sequence_len",
    "sample_packing",
    "rl",
)
DEFAULT_LICENSE = "other"  # the spec has no license key; the base model's license applies


@dataclass(frozen=True)
class CardInputs:
    kind: str  # adapter | merged | gguf
    repo_id: str
    repos: dict[str, str]  # every repo this run pushes (kind -> id), for cross-links
    spec: dict[str, Any]  # the effective spec
    config: dict[str, Any]  # the rendered Axolotl config
    manifest: dict[str, Any]
    metrics: dict[str, dict[str, Any]]  # eval results: {metric: {"base": x, "tuned": y}}
    files: list[str]  # the repo's files (the card aside)
    tracking: dict[str, Any] | None = None  # state.json's `tracking`: the run's tracker runs


def is_hub_id(ref: str) -> bool:
    return bool(HUB_ID.match(ref)) and local_path(Path("."), ref) is None


def base_model(inp: CardInputs) -> str:
    base = inp.manifest.get("base_model") or {}
    return str(base.get("id") or inp.config.get("base_model") or inp.spec.get("base_model"))


def hub_datasets(inp: CardInputs) -> list[str]:
    """The datasets that came from the Hub (local files have no id to link)."""
    paths = [str(d.get("path", "")) for d in inp.spec.get("datasets") or []]
    return sorted({p for p in paths if is_hub_id(p)})


def card_metadata(inp: CardInputs) -> dict[str, Any]:
    """The front matter of the card (the Hub's model card metadata), as data."""
    base = base_model(inp)
    meta: dict[str, Any] = {}
    # A quantized repo derives from the merged repo when this run pushes one.
    parent = inp.repos.get("merged") if inp.kind == "gguf" and inp.repos.get("merged") else base
    if parent and is_hub_id(parent):
        meta["base_model"] = parent
        meta["base_model_relation"] = RELATION[inp.kind]
    meta["library_name"] = LIBRARY[inp.kind]
    meta["license"] = DEFAULT_LICENSE
    if datasets := hub_datasets(inp):
        meta["datasets"] = datasets
    task = str(inp.spec.get("task", "custom"))
    meta["tags"] = [
        "axowrap",
        "axolotl",
        task,
        *(["lora"] if inp.kind == "adapter" else []),
        *(["gguf"] if inp.kind == "gguf" else []),
    ]
    meta["pipeline_tag"] = "text-generation"
    if inp.metrics:
        metrics = [
            {"type": name, "value": values["tuned"], "name": name}
            for name, values in sorted(inp.metrics.items())
            if isinstance(values.get("tuned"), (int, float))
        ]
        if metrics:
            meta["model-index"] = [
                {
                    "name": inp.repo_id.split("/")[-1],
                    "results": [
                        {
                            "task": {"type": "text-generation", "name": task},
                            "dataset": {"name": "held-out split of the training data", "type": "json"},
                            "metrics": metrics,
                        }
                    ],
                }
            ]
    return meta


def datasets(inp: CardInputs) -> list[dict[str, Any]]:
    """The training data as the manifest recorded it (source + sha256), else as the spec names it."""
    recorded = inp.manifest.get("datasets") or [{"source": d.get("path")} for d in inp.spec.get("datasets") or []]
    return [{"source": d.get("source"), "sha256": d.get("sha256")} for d in recorded]


def eval_rows(metrics: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    def show(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, (int, float)) else "-"

    rows = []
    for name, values in sorted(metrics.items()):
        base, tuned = values.get("base"), values.get("tuned")
        delta = values.get("delta")
        if delta is None and isinstance(base, (int, float)) and isinstance(tuned, (int, float)):
            delta = tuned - base
        rows.append(
            {
                "metric": name,
                "base": show(base),
                "tuned": show(tuned),
                "delta": (f"{delta:+.4g}" if isinstance(delta, (int, float)) else "-"),
            }
        )
    return rows


def gguf_quant(name: str) -> str:
    """The quantization tag Ollama and llama.cpp use for a GGUF file name (`sql-q4_k_m.gguf` -> Q4_K_M)."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".gguf")
    return re.split(r"[-.]", stem)[-1].upper()


def tracker_runs(tracking: dict[str, Any] | None) -> list[dict[str, str]]:
    """The tracker runs of the training, for the card: tracker, run id, and a link when public."""
    data = tracking or {}
    out = []
    ml = data.get("mlflow") or {}
    if ml.get("run_id"):
        uri = str(ml.get("tracking_uri", ""))
        url = f"{uri.rstrip('/')}/#/experiments/{ml.get('experiment_id')}/runs/{ml['run_id']}"
        out.append({"tracker": "MLflow", "run": str(ml["run_id"]), "url": url if uri.startswith("https://") else ""})
    wb = data.get("wandb") or {}
    if wb.get("id"):
        url = f"https://wandb.ai/{wb['entity']}/{wb['project']}/runs/{wb['id']}" if wb.get("entity") else ""
        out.append({"tracker": "W&B", "run": str(wb["id"]), "url": url if wb.get("mode") != "offline" else ""})
    if (data.get("tensorboard") or {}).get("dir"):
        out.append({"tracker": "TensorBoard", "run": "event files in the run directory", "url": ""})
    for entry in out:  # these land in markdown: no backticks, brackets or newlines
        for key, value in entry.items():
            entry[key] = re.sub(r"[`\[\]()<>\n]", "", value)
    return out


def render_card(inp: CardInputs) -> str:
    """The card's text; raises AxowrapError if it does not parse back to the same metadata."""
    import yaml

    from axowrap.templating import render_template

    meta = card_metadata(inp)
    held = inp.manifest.get("holdout") or {}
    holdout = {k: held.get(k) for k in ("rows", "fraction", "seed")}
    hyper = {k: inp.config[k] for k in HYPERPARAMETERS if inp.config.get(k) not in (None, False)}
    text = render_template(
        "modelcard.md.j2",
        meta=meta,
        kind=inp.kind,
        title=TITLE[inp.kind],
        repo_id=inp.repo_id,
        repos=inp.repos,
        base=base_model(inp),
        base_on_hub=is_hub_id(base_model(inp)),
        task=inp.spec.get("task", "custom"),
        method=inp.spec.get("method", "lora"),
        datasets=datasets(inp),
        holdout=holdout,
        hyper=hyper,
        eval_rows=eval_rows(inp.metrics),
        tracker_runs=tracker_runs(inp.tracking),
        ggufs=[{"file": f, "quant": gguf_quant(f)} for f in inp.files if f.endswith(".gguf")],
        has_modelfile="Modelfile" in inp.files,
        spec_yaml=yaml.safe_dump(inp.spec, sort_keys=False, allow_unicode=True).rstrip("\n"),
        versions={k: v for k, v in (inp.manifest.get("versions") or {}).items() if v},
    )
    check_card(text, meta, inp.repo_id)
    return text


def check_card(text: str, meta: dict[str, Any], repo_id: str) -> None:
    """The card must parse with huggingface_hub.ModelCard and give back exactly `meta`."""
    from huggingface_hub import ModelCard

    try:
        parsed = ModelCard(text, ignore_metadata_errors=False).data.to_dict()
    except Exception as exc:
        raise AxowrapError(
            f"model card for {repo_id} does not parse: {exc}", hint="report this: the card template is wrong"
        ) from None
    if parsed != meta:
        raise AxowrapError(
            f"model card for {repo_id}: metadata does not round-trip ({parsed} != {meta})",
            hint="report this: the card template is wrong",
        )
