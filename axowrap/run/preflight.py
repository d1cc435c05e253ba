"""Fail fast on the machine we are on, before a training child starts: the spec's target
against the GPUs `nvidia-smi` reports (count, memory, compute capability), and the base model
reachable or in the Hugging Face cache. Each problem is one line with its fix; nothing here
imports torch (a few seconds and a CUDA init to learn what nvidia-smi says in milliseconds).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from axowrap.machine import nvidia_smi
from axowrap.targets import Target


def gpus_here() -> list[dict[str, Any]]:
    """Each CUDA GPU of this machine: name, memory (GiB), compute capability (e.g. 8.6)."""
    out = []
    for row in nvidia_smi("name", "memory.total", "compute_cap"):
        if len(row) < 3:
            continue
        memory = re.match(r"([\d.]+)", row[1])
        try:
            cap = float(row[2])
        except ValueError:
            cap = None
        out.append({"name": row[0], "memory_gib": float(memory.group(1)) / 1024 if memory else None, "capability": cap})
    return out


def _capability(target: Target) -> float | None:
    cc = target.compute_capability
    return int(cc[3:]) / 10 if cc and cc.startswith("sm_") and cc[3:].isdigit() else None


def machine_problems(target: Target, gpus: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(problem, fix) for each way this machine cannot run what the config was rendered for."""
    if target.is_cpu:
        return []
    want = f"{target.name} x{target.gpus}"
    cpu_fix = "`axowrap run SPEC --target cpu` to try it here (slowly), or run it on a GPU machine (`axowrap launch`)"
    if not gpus:
        return [
            (
                f"this machine has no CUDA GPU (nvidia-smi finds none), but the spec targets {want}: "
                "Axolotl would fail inside the training (CUDA, FlashAttention, bf16)",
                cpu_fix,
            )
        ]
    out = []
    if len(gpus) < target.gpus:
        out.append(
            (
                f"the spec targets {target.gpus} GPU(s) per node, this machine has {len(gpus)}",
                f"`--target {target.name}:{len(gpus)}`, or a machine with {target.gpus} GPUs",
            )
        )
    smallest = min((g["memory_gib"] for g in gpus if g["memory_gib"]), default=None)
    if smallest is not None and smallest * 1.074 < target.vram_gb * 0.95:  # GiB -> GB, 5% slack
        out.append(
            (
                f"the config was planned for {target.vram_gb:g} GB per GPU ({target.name}); this machine's "
                f"{gpus[0]['name']} has {smallest:.0f} GiB: it would run out of memory",
                "`--target` the GPU class this machine has (`axowrap plan SPEC --target NAME` shows what fits)",
            )
        )
    need = _capability(target)
    have = min((g["capability"] for g in gpus if g["capability"]), default=None)
    if need is not None and have is not None and have < 8.0 <= need and target.bf16:
        out.append(
            (
                f"the config uses bf16 and FlashAttention for {target.name} (compute capability {need}); "
                f"this machine's {gpus[0]['name']} is {have} (no bf16)",
                "`--target t4-16gb` (fp16, no FlashAttention) or a newer GPU",
            )
        )
    return out


def model_problem(base_model: str, revision: str | None, local: Path | None) -> tuple[str, str] | None:
    """(problem, fix) when the base model can be neither read here nor downloaded now."""
    if local is not None:
        if local.is_dir():
            return None
        return (f"base model folder {local} does not exist", "fix `base_model:` in the spec")
    from axowrap.data.hub import endpoint, offline
    from axowrap.hfcache import cached_file, hub_cache

    rev = revision or "main"
    cached = cached_file(base_model, "config.json", rev) is not None
    fetch = f"download it once where the Hub is reachable: `hf download {base_model}`" + (
        f" --revision {rev}" if rev != "main" else ""
    )
    if offline():
        if cached:
            return None
        return (
            f"base model {base_model!r} ({rev}) is not in the Hugging Face cache ({hub_cache()}) and HF_HUB_OFFLINE "
            "is set: the training would fail loading it",
            f"{fetch} (same HF_HOME), or unset HF_HUB_OFFLINE",
        )
    reason = _reach(base_model, rev)
    if reason is None or cached:
        return None
    return (
        f"base model {base_model!r} ({rev}) cannot be fetched from {endpoint()} ({reason}) and is not cached",
        fetch,
    )


def _reach(repo_id: str, revision: str) -> str | None:
    """None when the Hub answers for the model; else why not (unreachable, not found, no access)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    from axowrap.data.hub import TIMEOUT_S, endpoint

    try:
        HfApi(endpoint=endpoint()).model_info(repo_id, revision=revision, timeout=TIMEOUT_S)
    except RevisionNotFoundError:
        return f"no revision {revision!r}"
    except RepositoryNotFoundError:
        return "no such model, or it is private and HF_TOKEN cannot read it"
    except HfHubHTTPError as exc:
        return f"HTTP {exc.response.status_code if exc.response is not None else '?'}"
    except Exception as exc:  # connection refused, DNS, timeouts
        return f"unreachable: {type(exc).__name__}"
    return None


SKIP = "AXOWRAP_SKIP_PREFLIGHT"  # for a machine where nvidia-smi cannot see the GPUs CUDA can


def preflight(config: dict[str, Any], target: Target | None) -> list[tuple[str, str]]:
    """Every problem that would stop the training of `config` (rendered for `target`, None when
    unknown) on this machine, each with its fix."""
    if os.environ.get(SKIP):
        return []
    problems = machine_problems(target, gpus_here()) if target is not None else []
    base = str(config["base_model"])
    # render writes a local model as a path (absolute in a run directory), a Hub model as its id
    local = Path(base).expanduser() if base.startswith(("/", ".", "~")) or Path(base).exists() else None
    found = model_problem(base, config.get("model_revision"), local)
    if found:
        problems.append(found)
    return problems
