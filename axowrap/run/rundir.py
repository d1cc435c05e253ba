"""The layout of a run directory: one folder per run, everything a run produced or recorded.

runs/<name>-<hash8>/
  spec.yaml          the spec as given          axolotl.yaml   the rendered config
  manifest.json      versions, hashes, hardware state.json     each step's status
  logs/<step>.log    data/ (train/held-out split)  adapter/ (Axolotl's output_dir)
  merged/  gguf/  eval/  serve/  report.md  loss.png
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axowrap.errors import UsageError


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.yaml"

    @property
    def config(self) -> Path:
        return self.root / "axolotl.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, step: str) -> Path:
        return self.logs / f"{step}.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def merged(self) -> Path:
        return self.root / "merged"

    @property
    def gguf(self) -> Path:
        return self.root / "gguf"

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def serve(self) -> Path:
        return self.root / "serve"

    @property
    def report(self) -> Path:
        return self.root / "report.md"


def open_run(path: Path) -> RunDir:
    """An existing run directory (one that `axowrap run` prepared)."""
    run = RunDir(path.resolve())
    if not run.manifest.is_file() or not run.config.is_file():
        raise UsageError(
            f"{path}: not a run directory (no manifest.json / axolotl.yaml)",
            hint="create it with `axowrap run SPEC` (or `--dry-run` to only prepare it)",
        )
    return run
