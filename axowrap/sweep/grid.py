"""Sweep points from the command line: `--grid KEY=V1,V2,...` (every combination) and
`--range KEY=LO..HI` (sampled, `--random N` times; `log:LO..HI` samples on a log scale).

Values are YAML 1.2, as `--set` reads them: `--grid lora.r=8,16` gives the integers 8 and 16,
`--grid 'lora.target=[q_proj,v_proj],all-linear'` a list and a string (commas inside brackets,
braces or quotes do not split). Each point is a tuple of Override, in axis order.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from axowrap.errors import UsageError
from axowrap.spec.overrides import Override, parse_key, parse_override

CLOSERS = {"[": "]", "{": "}"}


def split_values(text: str) -> list[str]:
    """`a,[b,c],"d,e"` -> ['a', '[b,c]', '"d,e"']: top-level commas only."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Override, ...]  # one override (per value) at this key


@dataclass(frozen=True)
class Range:
    key: str
    low: float
    high: float
    log: bool
    integer: bool

    def sample(self, rng: random.Random) -> Any:
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return round(value) if self.integer else float(f"{value:.3g}")


def parse_grid(text: str) -> Axis:
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise UsageError(
            f"--grid {text!r}: expected KEY=V1,V2,...", hint="e.g. --grid training.learning_rate=1e-4,3e-4"
        )
    found: list[Override] = []
    for raw in split_values(values):
        found.extend(parse_override(f"{key.strip()}={raw}"))
    if len({repr(o.value) for o in found}) != len(found):
        raise UsageError(f"--grid {text!r}: a value is listed twice")
    return Axis(key.strip(), tuple(found))


def _number(text: str, whole: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--range {whole!r}: {text!r} is not a number", hint="e.g. --range lora.r=4..64") from None


def parse_range(text: str) -> Range:
    key, sep, spec = text.partition("=")
    log = spec.startswith("log:")
    low_text, dots, high_text = spec.removeprefix("log:").partition("..")
    if not sep or not dots or not key.strip():
        raise UsageError(
            f"--range {text!r}: expected KEY=LO..HI or KEY=log:LO..HI",
            hint="e.g. --range training.learning_rate=log:1e-5..1e-3",
        )
    parse_key(key.strip())
    low, high = _number(low_text, text), _number(high_text, text)
    if not low < high:
        raise UsageError(f"--range {text!r}: the low end must be below the high end")
    if log and low <= 0:
        raise UsageError(f"--range {text!r}: a log range needs a positive low end")
    integer = all(t.strip().lstrip("-").isdigit() for t in (low_text, high_text))
    return Range(key.strip(), low, high, log, integer)


def points(
    axes: list[Axis], ranges: list[Range], random_n: int | None = None, seed: int = 0
) -> list[tuple[Override, ...]]:
    """Every combination of the grid; with `random_n`, that many points sampled (ranges drawn,
    grid values picked), seeded so the same command gives the same points."""
    if ranges and not random_n:
        raise UsageError("--range values are sampled: give --random N (how many points)")
    if not random_n:
        combos = list(itertools.product(*(a.values for a in axes))) if axes else []
        if not combos:
            raise UsageError("a sweep needs --grid KEY=V1,V2 (or --random N with --range)")
        return [tuple(c) for c in combos]
    rng = random.Random(seed)
    out: list[tuple[Override, ...]] = []
    seen: set[str] = set()
    for _ in range(random_n * 20):
        point = [rng.choice(a.values) for a in axes]
        for r in ranges:
            point.extend(parse_override(f"{r.key}={r.sample(rng)}"))
        key = repr([(o.key, o.value) for o in point])
        if key not in seen:
            seen.add(key)
            out.append(tuple(point))
        if len(out) == random_n:
            return out
    raise UsageError(f"--random {random_n}: only {len(out)} distinct points exist", hint="ask for fewer")
