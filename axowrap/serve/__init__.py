"""Serving files for a run (serve/Modelfile, serve/README.md) and `axowrap serve`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axowrap.run.rundir import RunDir
from axowrap.yamlio import atomic_write

if TYPE_CHECKING:
    from axowrap.chat.format import PromptFormat

# The GGUF the Modelfile and the README use, first one the run has: small but good.
PREFERENCE = (
    "q4_k_m",
    "q5_k_m",
    "q6_k",
    "q8_0",
    "q4_k_s",
    "q5_k_s",
    "q5_0",
    "q4_0",
    "f16",
    "bf16",
    "q3_k_m",
    "q3_k_l",
    "q3_k_s",
    "q2_k",
)


def choose(types: list[str] | tuple[str, ...]) -> str:
    return next((t for t in PREFERENCE if t in types), types[0])


def write_serve_files(run: RunDir, name: str, ggufs: dict[str, Path], fmt: PromptFormat) -> dict[str, Any]:
    """Write serve/Modelfile and serve/README.md for the run's GGUF files, in the prompt format
    the run was trained on; returns what was written."""
    from axowrap.serve.modelfile import modelfile_text, serve_template
    from axowrap.serve.readme import readme_text

    chosen = choose(list(ggufs))
    served = serve_template(fmt)
    modelfile = run.serve / "Modelfile"
    atomic_write(modelfile, modelfile_text(os.path.relpath(ggufs[chosen], run.serve), served))
    readme = run.serve / "README.md"
    atomic_write(readme, readme_text(run, name, ggufs, chosen, served, fmt))
    return {"modelfile": str(modelfile), "readme": str(readme), "gguf": chosen, "template": served.name}
