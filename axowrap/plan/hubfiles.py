"""A Hub model's shape from its config.json alone (and the safetensors index for the exact
parameter count, and preprocessor_config.json for a vision model's image tokens): read from
the Hugging Face cache first, else downloaded into it through huggingface_hub, which honours
HF_HUB_OFFLINE, HF_ENDPOINT and HF_TOKEN. The commit the files were read at is recorded."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.hfcache import cached_absent, cached_file, hub_cache, offline
from axowrap.plan.dims import Dims
from axowrap.plan.modelconfig import dims_from_config

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
INDEX = "model.safetensors.index.json"
PROCESSOR = "preprocessor_config.json"
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


def exact_params(index: dict[str, Any], cfg: dict[str, Any]) -> int | None:
    """Parameters from the safetensors index's total_size, when the weights are plain 16/32-bit
    (a quantized checkpoint's bytes are not 2 per parameter)."""
    total = (index.get("metadata") or {}).get("total_size")
    nested = cfg.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else {}
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or text.get("torch_dtype") or "").replace("torch.", "")
    if not isinstance(total, (int, float)) or cfg.get("quantization_config") or dtype not in DTYPE_BYTES:
        return None
    return int(total) // DTYPE_BYTES[dtype]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _dims(repo: str, files: dict[str, Path], commit: str, where: str) -> Dims:
    cfg = _read(files["config.json"])
    if cfg is None:
        raise AxowrapError(f"{files['config.json']}: the cached config.json of {repo} is not a JSON object")
    processor = _read(files[PROCESSOR]) if PROCESSOR in files else None
    dims = dims_from_config(cfg, name=repo, source=f"{where} {repo}@{commit[:12]}", processor=processor)
    exact = exact_params(_read(files[INDEX]) or {}, cfg) if INDEX in files else None
    return replace(dims, revision=commit, exact_params=exact)


def _from_cache(repo: str, revision: str) -> tuple[Dims | None, bool]:
    """(dims, complete): complete when every optional file is cached or known absent."""
    found = cached_file(repo, "config.json", revision)
    if found is None:
        return None, False
    path, commit = found
    files = {"config.json": path}
    complete = True
    cfg = _read(path) or {}
    for name in (INDEX, PROCESSOR) if "vision_config" in cfg else (INDEX,):
        hit = cached_file(repo, name, commit)
        if hit is not None:
            files[name] = hit[0]
        elif not cached_absent(repo, name, commit):
            complete = False
    return _dims(repo, files, commit, "Hugging Face cache:"), complete


def _download(repo: str, revision: str) -> Dims:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    kw: dict[str, Any] = {
        "revision": revision,
        "cache_dir": hub_cache(),
        "endpoint": os.environ.get("HF_ENDPOINT") or None,
    }
    path = Path(hf_hub_download(repo, "config.json", **kw))
    commit = path.parent.name
    files = {"config.json": path}
    cfg = _read(path) or {}
    for name in (INDEX, PROCESSOR) if "vision_config" in cfg else (INDEX,):
        try:
            files[name] = Path(hf_hub_download(repo, name, **{**kw, "revision": commit}))
        except EntryNotFoundError:
            pass  # huggingface_hub remembers the 404 in the cache (.no_exist)
    return _dims(repo, files, commit, "the Hub:")


def hub_dims(repo: str, revision: str, *, network: bool) -> tuple[Dims | None, str]:
    """(dims, "") from the cache or the Hub, or (None, why not) for the caller's fallback.
    A repository the Hub says does not exist is an error, not a fallback (a typo would
    otherwise be planned as whatever family its name resembles)."""
    if not REPO_ID.match(repo):
        return None, "not a Hub model id"
    cached, complete = _from_cache(repo, revision)
    if cached is not None and (complete or not network or offline()):
        return cached, ""
    if not network:
        return None, "its config.json is not in the Hugging Face cache (validate never downloads; `axowrap plan` does)"
    if offline():
        return None, "HF_HUB_OFFLINE is set and the Hugging Face cache has no config.json for it"
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its retry chatter is not for the user: the outcome is reported
    try:
        return _download(repo, revision), ""
    except GatedRepoError:
        return cached, "the Hub says the model is gated (accept its license on the Hub and set HF_TOKEN)"
    except RepositoryNotFoundError:
        raise AxowrapError(
            f"the Hub has no model {repo!r} (or it is private)",
            hint="check base_model's spelling; for a private model set HF_TOKEN",
        ) from None
    except RevisionNotFoundError:
        raise AxowrapError(
            f"the Hub has no revision {revision!r} of {repo!r}", hint="fix `revision:` in the spec"
        ) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, RuntimeError, ValueError) as exc:
        # RuntimeError: huggingface_hub 1.17 retries on a client it closed after a connection error
        first = (str(exc).splitlines() or [""])[0][:120]
        return cached, f"the Hub could not be asked ({type(exc).__name__}: {first})"
    finally:
        hf_logging.set_verbosity(level)
