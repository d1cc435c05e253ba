"""What checking and rendering a spec read besides the spec's own files (`extends` included):
the inputs a cached result depends on (axowrap.cache, axowrap.checkcache).

Every path a spec names is an input whether or not it exists (a data file that appears later
changes the answer), and so are the folders the rules look in for it: a local base model, the
Hugging Face cache folder of a Hub model (the fit rule reads its config.json there), the team's
targets file, this machine's calibration file, and the netrc file when W&B tracking is on (a
login). A spec whose check reads the state of the
machine itself (free disk space for GGUF files) is `volatile`: never kept. tests/test_checkcache.py
records every file a real check opens or looks at and fails when one is not listed here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from axowrap.hfcache import repo_folder
from axowrap.spec.model import Spec
from axowrap.targets import calibration_path


@dataclass
class Inputs:
    paths: set[Path] = field(default_factory=set)
    volatile: bool = False


def _named(spec: Spec, value: object) -> Path | None:
    """The path `value` would name on disk (relative to the spec), local or not."""
    if not isinstance(value, str) or not value:
        return None
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else spec.base_dir / candidate


def spec_inputs(spec: Spec) -> Inputs:
    """Every input of `validate`/`render` of `spec` beyond axowrap itself."""
    out = Inputs()
    out.paths.update(Path(name) for name in spec.docs)
    # what finding the spec's repo looks for above each file (spec_root: `.git`; the team repo of
    # the schema modeline: team.yaml): adding one changes the verdict or the rendered text
    for name in spec.docs:
        for folder in Path(name).resolve().parents:
            out.paths.update((folder / ".git", folder / "team.yaml"))
    from axowrap.repo import SCHEMAS_DIR, find_root, schema_name

    root = find_root(spec.path)
    if root is not None:  # the modeline names the team repo's schema (its path, resolved)
        out.paths.update((root / SCHEMAS_DIR, root / SCHEMAS_DIR / schema_name("axolotl")))
    out.paths.add(calibration_path())
    targets = spec.targets_file()
    if targets is not None:
        out.paths.add(targets)
    for entry in spec.data.get("datasets") or []:
        if isinstance(entry, dict):
            named = _named(spec, entry.get("path"))
            if named is not None:
                out.paths.add(named)
    for key in ("holdout_file", "database"):  # the database: GRPO's reward probe runs the rows' SQL on it
        named = _named(spec, (spec.data.get("eval") or {}).get(key))
        if named is not None:
            out.paths.add(named)
    if any("." in str(name) for name in spec.data.get("rewards") or {}):
        out.volatile = True  # a reward of the user's own module: its code is imported and called
    if (spec.data.get("tracking") or {}).get("wandb"):  # rules/tracking.py: wandb_login
        out.paths.add(Path(os.environ.get("NETRC") or Path.home() / ".netrc"))
    base = spec.data.get("base_model")
    named = _named(spec, base)
    if named is not None and isinstance(base, str):
        out.paths.add(named)
        if spec.local_path(base, model=True) is None:  # a Hub id: the fit rule reads the Hugging Face cache
            out.paths.add(repo_folder(base))
        elif (spec.data.get("export") or {}).get("gguf"):
            out.volatile = True  # the GGUF preflight asks the disk for free space
    return out
