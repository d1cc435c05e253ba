"""Stop metadata of the exported models, compared with the end-of-turn token training used.

- merged/: `eos_token_id` in generation_config.json (what `generate`, vLLM and TGI stop on) and
  config.json must be, or include, the end-of-turn token; tokenizer_config.json's eos/pad tokens
  are recorded and the EOS must be the end-of-turn token unless generation_config lists it.
- GGUF: `tokenizer.ggml.eos_token_id`, the EOT token and `add_bos` must agree with the HF
  tokenizer, and llama.cpp itself must treat the end-of-turn token as end of generation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list) else [int(value)]


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):  # older tokenizer_config.json: {"content": ..., ...}
        value = value.get("content")
    return value if isinstance(value, str) else None


def check_merged(merged: Path, eot: dict[str, int]) -> dict[str, Any]:
    """`eot`: end-of-turn token text -> id (in the merged tokenizer)."""
    gen = _read(merged / "generation_config.json")
    cfg = _read(merged / "config.json")
    tok = _read(merged / "tokenizer_config.json")
    text_config = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}
    found = {
        "generation_config.json": _ids(gen.get("eos_token_id")) if gen else None,
        "config.json": _ids(cfg.get("eos_token_id", (text_config or {}).get("eos_token_id"))),
    }
    eos_text, pad_text = _token_text(tok.get("eos_token")), _token_text(tok.get("pad_token"))
    problems = []
    for name, ids in found.items():
        if ids is None:
            continue
        missing = [f"{t} (id {i})" for t, i in eot.items() if i not in ids]
        if missing:
            problems.append(
                f"merged/{name}: eos_token_id {ids if len(ids) != 1 else ids[0]} does not include the end-of-turn "
                f"token {', '.join(missing)}: `generate`, vLLM and TGI will not stop where the model learned to"
            )
    if (
        eos_text is not None
        and eos_text not in eot
        and not all(i in (found["generation_config.json"] or []) for i in eot.values())
    ):
        problems.append(
            f"merged/tokenizer_config.json: eos_token {eos_text!r} is not the end-of-turn token {', '.join(eot)}"
        )
    return {
        "eos_token_id": found,
        "tokenizer_eos": eos_text,
        "tokenizer_pad": pad_text,
        "end_of_turn": eot,
        "problems": problems,
    }


GGUF_KEYS = (
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
)
# GGUF value types: struct format of the scalars; 8 string, 9 array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_fields(path: Path, keys: tuple[str, ...] = GGUF_KEYS) -> dict[str, Any]:
    """The scalar metadata `keys` llama.cpp reads, from the GGUF header. Reads the key/value
    section only, stepping over arrays (the vocabulary) without decoding them: gguf-py's reader
    builds every field, seconds for a 49k-token vocabulary."""
    import mmap
    import struct

    out: dict[str, Any] = {}
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise ValueError(f"{path.name}: not a GGUF file")
        (version,) = struct.unpack_from("<I", m, 4)
        if version < 2:
            raise ValueError(f"{path.name}: GGUF version {version} is not supported")
        (count,) = struct.unpack_from("<Q", m, 16)
        pos = 24

        def skip(kind: int, pos: int) -> int:
            if kind == 8:
                return pos + 8 + struct.unpack_from("<Q", m, pos)[0]
            if kind == 9:
                item, n = struct.unpack_from("<IQ", m, pos)
                pos += 12
                if item in _SCALARS:
                    return pos + n * struct.calcsize(_SCALARS[item])
                for _ in range(n):
                    pos = skip(item, pos)
                return pos
            return pos + struct.calcsize(_SCALARS[kind])

        for _ in range(count):
            (length,) = struct.unpack_from("<Q", m, pos)
            key = m[pos + 8 : pos + 8 + length].decode("utf-8", errors="replace")
            (kind,) = struct.unpack_from("<I", m, pos + 8 + length)
            pos += 12 + length
            if key in keys and kind in _SCALARS:
                value = struct.unpack_from(_SCALARS[kind], m, pos)[0]
                out[key] = bool(value) if kind == 7 else value
            if kind not in _SCALARS and kind not in (8, 9):
                raise ValueError(f"{path.name}: unknown GGUF value type {kind} for {key}")
            pos = skip(kind, pos)
    return out


def check_gguf(path: Path, hf: dict[str, Any], eog: dict[str, bool]) -> dict[str, Any]:
    """`hf`: the HF tokenizer's eos_id, eot_id (end-of-turn token id) and add_bos; `eog`: for each
    end-of-turn token text, whether llama.cpp treats it as end of generation (asked of llama.cpp)."""
    fields = gguf_fields(path)
    problems = []
    eos = fields.get("tokenizer.ggml.eos_token_id")
    if eos != hf["eos_id"]:
        problems.append(
            f"{path.name}: tokenizer.ggml.eos_token_id is {eos}, the HF tokenizer's EOS is {hf['eos_id']} "
            f"({hf['eos']!r}): llama.cpp and Ollama stop on the wrong token"
        )
    eot = fields.get("tokenizer.ggml.eot_token_id")
    if eot is not None and eot not in hf["eot_ids"]:
        problems.append(f"{path.name}: tokenizer.ggml.eot_token_id is {eot}, not the end-of-turn token {hf['eot_ids']}")
    add_bos = fields.get("tokenizer.ggml.add_bos_token")
    if add_bos is not None and bool(add_bos) != hf["add_bos"]:
        problems.append(
            f"{path.name}: tokenizer.ggml.add_bos_token is {str(bool(add_bos)).lower()}, the HF tokenizer "
            f"{'adds' if hf['add_bos'] else 'does not add'} a BOS: prompts differ from training"
        )
    for text, is_eog in eog.items():
        if not is_eog:
            problems.append(f"{path.name}: llama.cpp does not end generation on the end-of-turn token {text!r}")
    return {"file": path.name, "metadata": fields, "llama_cpp_eog": eog, "problems": problems}
