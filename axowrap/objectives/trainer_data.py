"""The training rows a run directory writes for an objective (see rows.py for the shapes).

GRPO's prompts are built here, before training, by the eval's own prompt builder: an alpaca
row is laid out by Axolotl's prompter with the dataset's rendered `type` (the prompt text the
eval sends), a conversation goes to TRL as turns and gets the chat template the eval applies.
Each GRPO row keeps its own columns (TRL hands every column to the reward functions) and adds
`target`, the reference answer, and `database`, the absolute path of `eval.database`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axowrap.data.formats import layout_for
from axowrap.errors import AxowrapError
from axowrap.objectives import objective_of
from axowrap.objectives.rows import RowError, converts, grpo_split, trainer_row
from axowrap.spec.model import Spec


def trainer_rows(spec: Spec, index: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dataset `index`'s training rows in its objective's trainer shape (unchanged for supervised
    training, and for a dataset with a raw `type`, which reads the rows as they are)."""
    objective = objective_of(spec.preset)
    entry = spec.data["datasets"][index]
    if not converts(objective) or "type" in entry:
        return rows
    layout = layout_for(entry["format"], entry.get("fields"), entry.get("roles"))
    out = []
    for n, row in enumerate(rows, 1):
        try:
            out.append(
                _grpo_row(spec, entry, layout, row) if objective.name == "grpo" else trainer_row(objective, layout, row)
            )
        except RowError as exc:  # validate reports these; a file changed since is caught here
            raise AxowrapError(
                f"datasets[{index}] training row {n}: {objective.name}: {exc}", hint=f"axowrap validate {spec.path}"
            ) from None
    return out


def _grpo_row(spec: Spec, entry: dict[str, Any], layout: Any, row: dict[str, Any]) -> dict[str, Any]:
    from axowrap.config.render import alpaca_type
    from axowrap.evaluation.tasks import alpaca_prompt

    prompt, reference = grpo_split(layout, row)
    if layout.format == "alpaca":
        prompt, _ = alpaca_prompt(row, alpaca_type(entry))
    out = {k: v for k, v in row.items() if k not in ("prompt", "completion", "target", "database")}
    out["prompt"] = prompt
    out["target"] = reference or ""
    database = (spec.data.get("eval") or {}).get("database")
    if database:
        local = spec.local_path(database)
        out["database"] = str(Path(local).resolve()) if local else database
    return out
