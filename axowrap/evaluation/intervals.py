"""95% intervals for held-out scores that are 0 or 1 per row (exact match, execution match...).

- each model's score: the Wilson score interval of its k right answers out of n;
- the fine-tune's gain over the base: a paired bootstrap over the rows (the same questions
  resampled for both models, 10,000 draws, seeded), the 2.5th and 97.5th percentiles of the
  mean per-row difference.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

Z95 = 1.959963984540054
DRAWS = 10_000


def is_binary(values: Sequence[float]) -> bool:
    return bool(values) and all(v in (0.0, 1.0) for v in values)


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (0 and n successes included)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(
    base: Sequence[float], tuned: Sequence[float], *, draws: int = DRAWS, seed: int = 0
) -> tuple[float, float]:
    """95% interval of mean(tuned - base) over rows, resampling rows with replacement."""
    if len(base) != len(tuned) or not base:
        raise ValueError(f"paired scores needed: {len(base)} base vs {len(tuned)} tuned")
    diffs = [t - b for b, t in zip(base, tuned, strict=True)]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(draws))
    return (means[int(0.025 * draws)], means[min(draws - 1, int(0.975 * draws))])
