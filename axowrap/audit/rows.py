"""The training-rows check: in Axolotl's prepared dataset (what the trainer really saw), the
end-of-turn token after every trained answer carries a label. A masked one (-100) means the
model was never taught to stop there (Axolotl #3754: a template whose turn terminator is not
the EOS). Also: the prompt before the first trained token is exactly the prompt `axowrap chat`
and the Modelfile build, for the first rows of the training data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

IGNORE = -100
NEAR = 3  # Axolotl looks this far past a turn for its terminator (chat_template.py)
EXAMPLES = 3  # row numbers named in a failure


def prepared_folder(config: dict[str, Any]) -> Path | None:
    """The newest of Axolotl's prepared datasets under `dataset_prepared_path`."""
    root = Path(str(config.get("dataset_prepared_path") or ""))
    if not root.is_dir():
        return None
    found = [p for p in root.iterdir() if (p / "dataset_info.json").is_file()]
    return max(found, key=lambda p: (p / "dataset_info.json").stat().st_mtime) if found else None


def spans(labels: list[int]) -> list[tuple[int, int]]:
    """[start, end) of every run of trained (labelled) tokens."""
    out, start = [], None
    for i, label in enumerate(labels):
        if label != IGNORE and start is None:
            start = i
        elif label == IGNORE and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(labels)))
    return out


def row_problem(input_ids: list[int], labels: list[int], eot: set[int]) -> str | None:
    """`masked` or `missing` for the first trained turn whose end-of-turn token is not trained."""
    for start, end in spans(labels):
        where = next((i for i in range(start, min(len(input_ids), end + NEAR + 1)) if input_ids[i] in eot), None)
        if where is None:
            return "missing"
        if labels[where] == IGNORE:
            return "masked"
    return None


def check_rows(folder: Path, eot_ids: set[int], eot_text: list[str]) -> dict[str, Any]:
    """Count the prepared rows whose trained turns do not end with a labelled end-of-turn token."""
    from datasets import load_from_disk

    data: Any = load_from_disk(str(folder))
    masked: list[int] = []
    missing: list[int] = []
    trained_rows = 0
    for n, row in enumerate(data):
        labels = list(row["labels"])
        if all(label == IGNORE for label in labels):
            continue
        trained_rows += 1
        problem = row_problem(list(row["input_ids"]), labels, eot_ids)
        if problem == "masked":
            masked.append(n)
        elif problem == "missing":
            missing.append(n)
    result: dict[str, Any] = {
        "prepared": str(folder),
        "rows": len(data),
        "trained_rows": trained_rows,
        "end_of_turn": eot_text,
        "masked": len(masked),
        "missing": len(missing),
        "examples": (masked + missing)[:EXAMPLES],
    }
    return result


def first_prompts(folder: Path, n: int) -> list[list[int]]:
    """The untrained prefix (the prompt) of the first `n` prepared rows that have one."""
    from datasets import load_from_disk

    data: Any = load_from_disk(str(folder))
    out = []
    for row in data:
        labels = list(row["labels"])
        first = next((i for i, label in enumerate(labels) if label != IGNORE), 0)
        if first:
            out.append(list(row["input_ids"][:first]))
        if len(out) >= n:
            break
    return out
