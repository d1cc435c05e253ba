"""manifest.json: how a run was produced, so it can be reproduced and audited.

Spec and config sha256, tool versions, the base model (Hub id + revision, or local path +
hash), the dataset files + sha256, the git commit of the repo holding the spec, the hardware
seen, and the environment changes given to child processes (secrets scrubbed). Nothing here
imports torch or transformers: versions come from package metadata.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from axowrap import __version__

PACKAGES = ("axolotl", "torch", "transformers", "peft", "trl", "accelerate", "datasets")
SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|CREDENTIAL", re.I)


def scrub_env(env: dict[str, str]) -> dict[str, str]:
    """Environment changes safe to write down: secret-looking values are replaced."""
    return {k: ("<redacted>" if SECRET.search(k) else v) for k, v in sorted(env.items())}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dir_sha256(folder: Path) -> str:
    """One hash over every file (relative name + content) under `folder`."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return h.hexdigest()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"axowrap": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def base_model(config: dict[str, Any]) -> dict[str, Any]:
    ref = str(config["base_model"])
    local = Path(ref).expanduser()
    if local.is_dir():
        return {"path": str(local.resolve()), "sha256": dir_sha256(local)}
    return {"id": ref, "revision": config.get("model_revision", "main")}


def git_commit(folder: Path) -> dict[str, Any] | None:
    """The commit (and whether the tree is dirty) of the git repo holding `folder`, if any."""
    if shutil.which("git") is None:
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def hardware() -> dict[str, Any]:
    out: dict[str, Any] = {"machine": platform.machine(), "system": platform.system(), "cpus": os.cpu_count()}
    try:
        out["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    if shutil.which("nvidia-smi"):
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            out["gpus"] = [line.strip() for line in smi.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    out.setdefault("gpus", [])
    return out


def build_manifest(
    *,
    spec_path: Path,
    spec_sha256: str,
    spec_effective: dict[str, Any],
    config_text: str,
    config: dict[str, Any],
    data: dict[str, Any],
    env: dict[str, str],
) -> dict[str, Any]:
    """The manifest of a run directory (see the module docstring)."""
    return {
        "spec": {"path": str(spec_path), "sha256": spec_sha256, "effective": spec_effective},
        "config": {"sha256": hashlib.sha256(config_text.encode("utf-8")).hexdigest()},
        "versions": versions(),
        "base_model": base_model(config),
        "datasets": [
            {"source": src, "path": path, "sha256": data["sha256"].get(Path(path).name)}
            for src, path in zip(data["sources"], data["train_paths"], strict=True)
        ],
        "holdout": {
            "path": data["holdout_path"],
            "rows": data["counts"].get("holdout", 0),
            "fraction": data["fraction"],
            "seed": data["seed"],
        },
        "git": git_commit(spec_path.parent),
        "hardware": hardware(),
        "env": scrub_env(env),
    }
