"""Find the newest complete training checkpoint in an output_dir.

A checkpoint counts as complete when its trainer_state.json parses, its weights are present
and whole (safetensors header and data length agree; .bin/.pt files are whole zip archives)
and its optimizer state is present and whole. A crash while saving leaves a truncated newest
checkpoint: it is skipped with a warning and resume falls back to the one before.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from axowrap.run.outputs import safetensors_whole

WEIGHTS = ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin", "pytorch_model.bin")
OPTIMIZER = "optimizer.pt"


@dataclass
class Found:
    checkpoint: Path | None
    skipped: dict[Path, str] = field(default_factory=dict)  # incomplete checkpoint -> why

    @property
    def warnings(self) -> list[str]:
        return [f"checkpoint {p.name} is incomplete ({why}): not resuming from it" for p, why in self.skipped.items()]


def checkpoints(output_dir: Path) -> list[Path]:
    """checkpoint-N folders, oldest first."""
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def _file_whole(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return safetensors_whole(path)
    return zipfile.is_zipfile(path)  # torch.save writes zip archives; a truncated one has no end record


def problem(ckpt: Path) -> str | None:
    """Why `ckpt` cannot be resumed from, or None when it is complete."""
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
    except FileNotFoundError:
        return "no trainer_state.json"
    except (OSError, ValueError, AttributeError):
        return "trainer_state.json is unreadable"
    weights = [ckpt / w for w in WEIGHTS if (ckpt / w).is_file()]
    weights += sorted(ckpt.glob("model-*-of-*.safetensors"))
    if not weights:
        return "no weights"
    for w in weights:
        if not _file_whole(w):
            return f"{w.name} is truncated"
    if not (ckpt / OPTIMIZER).is_file():
        return f"no {OPTIMIZER}"
    if not _file_whole(ckpt / OPTIMIZER):
        return f"{OPTIMIZER} is truncated"
    return None


def newest_complete(output_dir: Path) -> Found:
    """The newest complete checkpoint (None if there is none) and the newer ones skipped."""
    found = Found(None)
    for ckpt in reversed(checkpoints(output_dir)):
        why = problem(ckpt)
        if why is None:
            found.checkpoint = ckpt
            break
        found.skipped[ckpt] = why
    return found


def global_step(ckpt: Path) -> int:
    return int(json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])
