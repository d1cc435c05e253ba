"""Run lm-eval (its CLI, as a child process) for one model on some tasks; read its results.

One child per (model, task group): the domain task runs alone, and each standard task runs
on its own, so a standard task whose data is not available offline fails by itself with a
message saying which, while the domain eval and the other tasks still run.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axowrap.errors import AxowrapError

OFFLINE_SIGNS = (
    "offline",
    "couldn't reach",
    "connection",
    "not found on the hub",
    "no such file",
    "doesn't exist on the hub",
    "couldn't find",
    "localentrynotfounderror",
    "datasetnotfounderror",
)


@dataclass(frozen=True)
class Model:
    """What lm-eval scores and a label for the tables: a Transformers model (`pretrained`, + a
    PEFT adapter), or a GGUF file served by llama.cpp at `server` (an OpenAI-style base URL),
    which lm-eval reaches through its `local-completions` model with the prompts as text."""

    label: str  # base | adapter | merged | gguf
    pretrained: str
    peft: str | None = None
    server: str | None = None

    @property
    def lm_eval_model(self) -> str:
        return "local-completions" if self.server else "hf"

    def model_args(self) -> str:
        if self.server:
            # Text prompts, no local tokenizer: llama.cpp tokenizes with the GGUF's own vocabulary.
            return (
                f"base_url={self.server}/completions,model={Path(self.pretrained).name},tokenizer_backend=None,"
                "tokenized_requests=False,num_concurrent=1,max_retries=3,timeout=600"
            )
        args = f"pretrained={self.pretrained},dtype=float32"
        return args + (f",peft={self.peft}" if self.peft else "")


def lm_eval_argv(
    model: Model,
    tasks: list[str],
    out: Path,
    *,
    include_path: Path | None = None,
    limit: int | None = None,
    device: str = "cpu",
    batch_size: int = 1,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "lm_eval",
        "run",
        "--model",
        model.lm_eval_model,
        "--model_args",
        model.model_args(),
        "--tasks",
        ",".join(tasks),
        "--output_path",
        str(out),
        "--log_samples",
        "--batch_size",
        str(batch_size),
    ]
    if model.server:
        # llama-cpp-python's server penalizes repeats (1.1) unless told not to: greedy, like the hf model.
        argv += ["--gen_kwargs", "repeat_penalty=1.0"]
    else:
        argv += ["--device", device]
    if include_path is not None:
        argv += ["--include_path", str(include_path)]
    if limit:
        argv += ["--limit", str(limit)]
    return argv


def _newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.rglob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def read_results(out: Path, task: str) -> dict[str, float]:
    """`{metric: value}` of `task` from lm-eval's newest results_*.json under `out`."""
    path = _newest(out, "results_*.json")
    if path is None:
        raise AxowrapError(f"{out}: lm-eval wrote no results_*.json", hint="see the eval log")
    data = json.loads(path.read_text(encoding="utf-8"))
    values = (data.get("results") or {}).get(task)
    if values is None:
        raise AxowrapError(f"{path}: no results for task {task!r}")
    out_values: dict[str, float] = {}
    for key, value in values.items():
        metric, _, _filter = key.partition(",")
        if metric.endswith("_stderr") or not isinstance(value, (int, float)) or metric in out_values:
            continue
        out_values[metric] = float(value)
    return out_values


def read_samples(out: Path, task: str) -> list[dict[str, Any]]:
    """lm-eval's per-row log (`--log_samples`): doc, target, filtered response, metrics."""
    path = _newest(out, f"samples_{task}_*.jsonl")
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def standard_task_error(task: str, tail: list[str]) -> str:
    """Why a standard task failed, and what would fix it, in one line."""
    text = "\n".join(tail).lower()
    if "not found" in text and "task" in text and "dataset" not in text:
        return f"lm-eval task {task!r} does not exist (see `lm_eval ls tasks`)"
    if any(sign in text for sign in OFFLINE_SIGNS):
        found = re.findall(r"Couldn't reach '([^'{}]+)'", "\n".join(tail), re.I)
        dataset = f"dataset {found[-1]!r}" if found else "dataset"
        return (
            f"lm-eval task {task!r}: its {dataset} is not available offline; download it once where the Hub is "
            f"reachable (run the task there, or `datasets.load_dataset` with that name) so it is in the "
            f"HF datasets cache, or remove {task!r} from eval.lm_eval"
        )
    return f"lm-eval task {task!r} failed: {tail[-1] if tail else 'no output'}"
