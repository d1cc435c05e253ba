"""Model shapes: from the base model's config.json when it is a local folder, else from a
built-in table of popular families (dims as published in each model's config.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError


@dataclass(frozen=True)
class Dims:
    """The numbers the estimator needs; `name` says where they came from."""

    name: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    head_dim: int | None = None
    source: str = "built-in table"

    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def q_dim(self) -> int:
        return self.heads * self.hd

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.hd

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer in one decoder layer, by Hugging Face module name."""
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes().values())

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus the output head (one matrix when tied)."""
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        norms = self.layers * 2 * self.hidden + self.hidden
        return self.layers * self.layer_linear_params + self.embedding_params + norms


def _d(
    name: str, pattern: str, h: int, L: int, i: int, nh: int, nkv: int, V: int, tied: bool, hd: int | None = None
) -> tuple[re.Pattern[str], Dims]:
    return re.compile(pattern), Dims(name, h, L, i, nh, nkv, V, tied, hd)


# Most specific patterns first; matched against the lower-cased model id without its owner.
TABLE: list[tuple[re.Pattern[str], Dims]] = [
    _d("llama-2-7b", r"llama-?2-7b", 4096, 32, 11008, 32, 32, 32000, False),
    _d("llama-2-13b", r"llama-?2-13b", 5120, 40, 13824, 40, 40, 32000, False),
    _d("llama-2-70b", r"llama-?2-70b", 8192, 80, 28672, 64, 8, 32000, False),
    _d("llama-3.2-1b", r"llama-?3\.2-1b", 2048, 16, 8192, 32, 8, 128256, True),
    _d("llama-3.2-3b", r"llama-?3\.2-3b", 3072, 28, 8192, 24, 8, 128256, True),
    _d("llama-3.x-8b", r"llama-?3(\.[01])?-8b", 4096, 32, 14336, 32, 8, 128256, False),
    _d("llama-3.x-70b", r"llama-?3(\.[0-3])?-70b", 8192, 80, 28672, 64, 8, 128256, False),
    _d("qwen2.5-0.5b", r"qwen2\.5-(coder-)?0\.5b", 896, 24, 4864, 14, 2, 151936, True),
    _d("qwen2.5-1.5b", r"qwen2\.5-(coder-|math-)?1\.5b", 1536, 28, 8960, 12, 2, 151936, True),
    _d("qwen2.5-3b", r"qwen2\.5-(coder-)?3b", 2048, 36, 11008, 16, 2, 151936, True),
    _d("qwen2.5-7b", r"qwen2\.5-(coder-|math-)?7b", 3584, 28, 18944, 28, 4, 152064, False),
    _d("qwen2.5-14b", r"qwen2\.5-(coder-)?14b", 5120, 48, 13824, 40, 8, 152064, False),
    _d("qwen2.5-32b", r"qwen2\.5-(coder-)?32b", 5120, 64, 27648, 40, 8, 152064, False),
    _d("qwen2.5-72b", r"qwen2\.5-(math-)?72b", 8192, 80, 29568, 64, 8, 152064, False),
    _d("qwen3-0.6b", r"qwen3-0\.6b", 1024, 28, 3072, 16, 8, 151936, True, 128),
    _d("qwen3-1.7b", r"qwen3-1\.7b", 2048, 28, 6144, 16, 8, 151936, True, 128),
    _d("qwen3-4b", r"qwen3-4b", 2560, 36, 9728, 32, 8, 151936, True, 128),
    _d("qwen3-8b", r"qwen3-8b", 4096, 36, 12288, 32, 8, 151936, False, 128),
    _d("qwen3-14b", r"qwen3-14b", 5120, 40, 17408, 40, 8, 151936, False, 128),
    _d("qwen3-32b", r"qwen3-32b", 5120, 64, 25600, 64, 8, 151936, False, 128),
    _d("mistral-7b", r"mistral-7b", 4096, 32, 14336, 32, 8, 32768, False),
    _d("gemma-2-2b", r"gemma-2-2b", 2304, 26, 9216, 8, 4, 256000, True, 256),
    _d("gemma-2-9b", r"gemma-2-9b", 3584, 42, 14336, 16, 8, 256000, True, 256),
    _d("gemma-2-27b", r"gemma-2-27b", 4608, 46, 36864, 32, 16, 256000, True, 128),
    _d("gemma-3-1b", r"gemma-3-1b", 1152, 26, 6912, 4, 1, 262144, True, 256),
    _d("gemma-3-4b", r"gemma-3-4b", 2560, 34, 10240, 8, 4, 262208, True, 256),
    _d("gemma-3-12b", r"gemma-3-12b", 3840, 48, 15360, 16, 8, 262208, True, 256),
    _d("gemma-3-27b", r"gemma-3-27b", 5376, 62, 21504, 32, 16, 262208, True, 128),
    _d("phi-3-mini", r"phi-3(\.5)?-mini", 3072, 32, 8192, 32, 32, 32064, False),
    _d("phi-3-medium", r"phi-3-medium", 5120, 40, 17920, 40, 10, 32064, False),
    _d("phi-4-mini", r"phi-4-mini", 3072, 32, 8192, 24, 8, 200064, True),
    _d("phi-4", r"phi-4(?!-)", 5120, 40, 17920, 40, 10, 100352, False),
    _d("smollm2-135m", r"smollm2-135m", 576, 30, 1536, 9, 3, 49152, True),
    _d("smollm2-360m", r"smollm2-360m", 960, 32, 2560, 15, 5, 49152, True),
    _d("smollm2-1.7b", r"smollm2-1\.7b", 2048, 24, 8192, 32, 32, 49152, True),
]


def family_names() -> list[str]:
    return [d.name for _, d in TABLE]


def from_table(model: str) -> Dims | None:
    key = model.lower().rsplit("/", 1)[-1].replace("_", "-").replace("meta-llama-", "llama-")
    for pattern, dims in TABLE:
        if pattern.search(key):
            return dims
    return None


def from_config(path: Path) -> Dims:
    """Dims from a Hugging Face config.json (multimodal configs: their `text_config`)."""
    try:
        cfg: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(f"{path}: cannot read the model config: {exc}") from None
    cfg = cfg.get("text_config") or cfg
    try:
        heads = int(cfg["num_attention_heads"])
        return Dims(
            name=str(cfg.get("model_type", path.parent.name)),
            hidden=int(cfg["hidden_size"]),
            layers=int(cfg["num_hidden_layers"]),
            intermediate=int(cfg["intermediate_size"]),
            heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            vocab=int(cfg["vocab_size"]),
            tied=bool(cfg.get("tie_word_embeddings", False)),
            head_dim=cfg.get("head_dim"),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AxowrapError(
            f"{path}: the model config has no usable {exc}",
            hint="the plan needs hidden_size, num_hidden_layers, intermediate_size, num_attention_heads, vocab_size",
        ) from None


def model_dims(model: str, local: Path | None = None) -> Dims:
    """Dims of `model`: its local config.json, else the table; a clear error when unknown."""
    if local is not None and (local / "config.json").is_file():
        return from_config(local / "config.json")
    dims = from_table(model)
    if dims is None:
        raise AxowrapError(
            f"cannot size base model {model!r}: it is not a local folder with a config.json, and not a family in the built-in table",
            hint=f"point base_model at a local folder, or use one of: {', '.join(family_names())}",
        )
    return dims
