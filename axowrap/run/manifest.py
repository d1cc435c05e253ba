"""manifest.json: how a run was produced, so it can be reproduced and audited.

Spec and config sha256, tool versions, the base model (Hub id + revision, or local path +
hash), the dataset files + sha256 (a Hub dataset's id, revision, commit, subset, split and
files; the row limit; a mixture's shares and seed), the git commit of the repo holding the
spec, the hardware seen, and the environment changes given to child processes (secrets scrubbed). Nothing here
imports torch or transformers: versions come from package metadata.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError
from axowrap.hashing import dir_sha256, text_sha256
from axowrap.machine import hardware
from axowrap.run.rundir import RunDir
from axowrap.versions import versions

SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|CREDENTIAL", re.I)


def scrub_env(env: dict[str, str]) -> dict[str, str]:
    """Environment changes safe to write down: secret-looking values are replaced."""
    return {k: ("<redacted>" if SECRET.search(k) else v) for k, v in sorted(env.items())}


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
        "config": {"sha256": text_sha256(config_text)},
        "versions": versions(),
        "base_model": base_model(config),
        "datasets": [
            {"source": src, "path": path, "sha256": data["sha256"].get(Path(path).name), **_input(data, i)}
            for i, (src, path) in enumerate(zip(data["sources"], data["train_paths"], strict=True))
        ],
        "mixture": data.get("mixture"),
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


def _input(data: dict[str, Any], index: int) -> dict[str, Any]:
    """Where dataset `index`'s rows came from (a Hub dataset's commit) and the row limit applied."""
    out: dict[str, Any] = {}
    inputs = data.get("inputs") or []
    if index < len(inputs) and inputs[index].get("hub"):
        out["hub"] = inputs[index]["hub"]
    limits = data.get("max_rows") or []
    if index < len(limits) and limits[index] is not None:
        out["max_rows"] = limits[index]
    return out


def load_manifest(run: RunDir) -> dict[str, Any]:
    try:
        return json.loads(run.manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AxowrapError(
            f"{run.manifest}: cannot read: {exc}", hint="rerun `axowrap run SPEC` to rewrite it"
        ) from None
