"""GRPO's built-in reward functions: the eval's domain metrics, called the way TRL calls a reward.

TRL's GRPOTrainer calls `fn(prompts=..., completions=..., completion_ids=..., **columns)` with
every other column of the training rows as a list (axowrap writes `target`, the reference
answer, and `database` when a reward runs SQL), and wants one float per completion. Each
function here scores with axowrap.evaluation.metrics, the module the eval and the gate score
with, so a model is trained, evaluated and gated on the same function. Axolotl loads them by
dotted path (`trl.reward_funcs: [axowrap.objectives.rewards.exec_match]`).

Pure Python, so `validate` runs them on real rows without heavy imports.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from axowrap.evaluation import metrics

MODULE = __name__


def text_of(completion: Any) -> str:
    """A completion as text: TRL passes strings, or message lists for conversational prompts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def _each(score: Callable[[str, str], float]) -> Callable[..., list[float]]:
    def reward(prompts: Sequence[Any], completions: Sequence[Any], target: Sequence[str], **_: Any) -> list[float]:
        return [float(score(text_of(c), t)) for c, t in zip(completions, target, strict=True)]

    return reward


exact_match = _each(metrics.exact_match)
sql_exact_match = _each(metrics.sql_exact_match)
tool_call_match = _each(metrics.tool_call_match)
accuracy = _each(metrics.accuracy)
rouge_l = _each(metrics.rouge_l)


def exec_match(
    prompts: Sequence[Any], completions: Sequence[Any], target: Sequence[str], database: Sequence[str], **_: Any
) -> list[float]:
    """1.0 when the generated query returns the gold query's rows on the row's SQLite database."""
    return [metrics.execution_match(text_of(c), t, d) for c, t, d in zip(completions, target, database, strict=True)]


def exec_valid(
    prompts: Sequence[Any], completions: Sequence[Any], target: Sequence[str], database: Sequence[str], **_: Any
) -> list[float]:
    """1.0 when the generated query runs at all on the row's SQLite database."""
    return [
        metrics.execution_scores(text_of(c), t, d)["exec_valid"]
        for c, t, d in zip(completions, target, database, strict=True)
    ]


def sql_format(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """Format: 1.0 for one complete SQL query (SELECT or WITH ... ;) and nothing else."""
    out = []
    for c in completions:
        text = text_of(c).strip()
        first = metrics.first_statement(text).strip()
        query = first.split(None, 1)[0].lower() in ("select", "with") if first else False
        alone = text == first or text == first.rstrip(";")
        out.append(float(query and alone and sqlite3.complete_statement(first if first.endswith(";") else first + ";")))
    return out


def json_format(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """Format: 1.0 when the completion holds a JSON tool call (an object naming a function)."""
    return [float(metrics.parse_tool_call(text_of(c)) is not None) for c in completions]


@dataclass(frozen=True)
class Reward:
    name: str
    fn: Callable[..., list[float]]
    reference: bool  # reads `target`, the row's reference answer
    database: bool  # reads `database`, the spec's `eval.database`

    @property
    def path(self) -> str:
        return f"{MODULE}.{self.name}"


BUILTIN: dict[str, Reward] = {
    r.name: r
    for r in (
        Reward("exact_match", exact_match, True, False),
        Reward("sql_exact_match", sql_exact_match, True, False),
        Reward("exec_match", exec_match, True, True),
        Reward("exec_valid", exec_valid, True, True),
        Reward("tool_call_match", tool_call_match, True, False),
        Reward("accuracy", accuracy, True, False),
        Reward("rouge_l", rouge_l, True, False),
        Reward("sql_format", sql_format, False, False),
        Reward("json_format", json_format, False, False),
    )
}


def reward_path(name: str) -> str:
    """The dotted path Axolotl imports for a spec's reward name (built-in or the user's own)."""
    return BUILTIN[name].path if name in BUILTIN else name
