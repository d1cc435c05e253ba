"""Facts about a model folder on disk, read without importing torch: weight bytes, dtype.
Shared by the validate-time GGUF rule and the merge step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def weights_bytes(folder: Path) -> int:
    """Bytes of the weight files (safetensors or bin) directly in `folder`."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())


def config_dtype(cfg: dict[str, Any]) -> str:
    """The weights' dtype a config.json states ('float32' when it states none)."""
    return str(cfg.get("torch_dtype") or cfg.get("dtype") or "float32").replace("torch.", "")
