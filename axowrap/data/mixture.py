"""Mixtures: `weight:` on spec datasets says what share of the training rows each one gets.

Weights are normalized (a dataset without `weight` counts 1 when any has one). The mixture keeps
the total number of training rows: dataset i gets round(total x w_i / sum w) rows; one with
fewer rows than its share is repeated (whole passes, then a seeded sample of one more), one
with more is sampled down, with the training seed. Each dataset's mixed rows are written to its
own training file, so Axolotl sees exactly those rows (it shuffles the merged datasets itself).
"""

from __future__ import annotations

import random
from typing import Any


def weights_of(datasets: list[dict[str, Any]]) -> list[float] | None:
    """Each dataset's weight, or None when the spec mixes nothing (no `weight` anywhere)."""
    if not any("weight" in d for d in datasets):
        return None
    return [float(d.get("weight", 1.0)) for d in datasets]


def targets(weights: list[float], rows: list[int]) -> list[int]:
    """Rows each dataset contributes: the same total, shared by weight (largest remainders)."""
    total = sum(rows)
    scale = sum(weights)
    exact = [total * w / scale for w in weights]
    out = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (out[i] - exact[i], i))[: total - sum(out)]:
        out[i] += 1
    return [o if rows[i] else 0 for i, o in enumerate(out)]  # an empty dataset contributes nothing


def mix_rows(rows: list[Any], target: int, seed: int) -> list[Any]:
    """`target` rows drawn from `rows`: whole passes while they fit, then a seeded sample."""
    if not rows or target <= 0:
        return []
    rng = random.Random(seed)
    out: list[Any] = []
    while target - len(out) >= len(rows):
        out.extend(rows)
    rest = target - len(out)
    out.extend(rows[i] for i in sorted(rng.sample(range(len(rows)), rest)))
    return out


def table(
    shown: list[str], weights: list[float], rows: list[int], tokens: list[int] | None = None
) -> list[dict[str, Any]]:
    """Per dataset: weight, rows available, rows in the mix, share of rows and of tokens."""
    used = targets(weights, rows)
    total_rows = sum(used) or 1
    per_row = [(t / r if r else 0.0) for t, r in zip(tokens, rows, strict=True)] if tokens is not None else None
    used_tokens = [u * p for u, p in zip(used, per_row, strict=True)] if per_row is not None else None
    total_tokens = sum(used_tokens) if used_tokens else 0
    out = []
    for i, name in enumerate(shown):
        entry: dict[str, Any] = {
            "source": name,
            "weight": weights[i],
            "rows": rows[i],
            "rows_in_mix": used[i],
            "row_share": round(used[i] / total_rows, 4),
        }
        if used_tokens is not None:
            entry["tokens_in_mix"] = round(used_tokens[i])
            entry["token_share"] = round(used_tokens[i] / total_tokens, 4) if total_tokens else 0.0
        out.append(entry)
    return out
