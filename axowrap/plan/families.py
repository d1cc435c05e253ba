"""Where a model's shape comes from, best first: a local folder's config.json; the Hugging Face
cache (read without importing huggingface_hub); the Hub itself (`plan` only, unless
HF_HUB_OFFLINE); then the built-in table of popular families (families.yaml), the offline
fallback. `validate` never goes to the network."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from axowrap.errors import AxowrapError
from axowrap.plan.dims import Dims
from axowrap.plan.modelconfig import dims_from_config
from axowrap.resources import PACKAGE_DIR


@dataclass(frozen=True)
class Family:
    name: str
    pattern: re.Pattern[str]
    config: dict[str, Any]
    processor: dict[str, Any] | None = None

    @property
    def dims(self) -> Dims:
        return dims_from_config(self.config, name=self.name, source="built-in table", processor=self.processor)


@cache
def families() -> list[Family]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser: the table is ~60 entries
    data = yaml.load((PACKAGE_DIR / "plan" / "families.yaml").read_text(encoding="utf-8"), Loader=loader)
    return [Family(f["name"], re.compile(f["pattern"]), f["config"], f.get("processor")) for f in data["families"]]


def family_names() -> list[str]:
    return [f.name for f in families()]


def table_key(model: str) -> str:
    return model.lower().rsplit("/", 1)[-1].replace("_", "-").replace("meta-llama-", "llama-")


def find_family(model: str) -> Family | None:
    key = table_key(model)
    return next((f for f in families() if f.pattern.search(key)), None)


def from_table(model: str) -> Dims | None:
    family = find_family(model)
    return family.dims if family else None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(f"{path}: cannot read the model config: {exc}") from None
    if not isinstance(data, dict):
        raise AxowrapError(f"{path}: a model config is a JSON object")
    return data


def from_folder(folder: Path) -> Dims:
    """Dims of a local model folder (config.json, and preprocessor_config.json and the
    safetensors index when present)."""
    from axowrap.plan.hubfiles import exact_params

    config = folder / "config.json"
    processor = folder / "preprocessor_config.json"
    index = folder / "model.safetensors.index.json"
    cfg = _json(config)
    dims = dims_from_config(
        cfg,
        name=str(cfg.get("model_type") or folder.name),
        source=str(config),
        processor=_json(processor) if processor.is_file() else None,
    )
    exact = exact_params(_json(index), cfg) if index.is_file() else None
    return replace(dims, exact_params=exact) if exact else dims


def from_config(path: Path) -> Dims:
    """Dims from one config.json file."""
    cfg = _json(path)
    return dims_from_config(cfg, name=str(cfg.get("model_type", path.parent.name)), source=str(path))


def model_dims(model: str, local: Path | None = None, *, revision: str | None = None, network: bool = False) -> Dims:
    """Dims of `model`: its local folder, the Hugging Face cache, the Hub (when `network`),
    else the built-in table; a clear error when none knows it."""
    if local is not None:
        if (local / "config.json").is_file():
            return from_folder(local)
        raise AxowrapError(
            f"cannot size base model {model!r}: the folder {local} has no config.json",
            hint="point base_model at a Hugging Face model folder (config.json and weights)",
        )
    from axowrap.plan.hubfiles import hub_dims

    found, why = hub_dims(model, revision or "main", network=network)
    if found is not None:
        return found
    dims = from_table(model)
    if dims is None:
        raise AxowrapError(
            f"cannot size base model {model!r}: {why}, and it is not a family in the built-in table",
            hint=f"run `axowrap plan` online once (it reads only config.json), point base_model at a local folder, "
            f"or use one of: {', '.join(family_names())}",
        )
    return replace(dims, notes=(*dims.notes, f"model shape from the built-in table: {why}"))
