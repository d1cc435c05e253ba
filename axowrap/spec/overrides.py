"""`--set KEY=VALUE`: values given on the command line, laid over a spec as its topmost layer.

KEY is a spec key path (`training.learning_rate`, `datasets[0].format`, `compute.target`); VALUE
is read as YAML 1.2, like a spec file (`1e-4` is a number, `[q8_0]` a list, `null` removes the
key, as in a spec file). `compute.target=h100-80gb:8` is the `--target` form: it also sets
`compute.gpus_per_node`. An override is one more layer: mappings merge, lists and scalars
replace, and `Spec.sources` records it under its label `--set KEY=VALUE`, so problems,
`render --explain` and the run manifest name it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from axowrap.errors import UsageError, ValidationFailed
from axowrap.problems import Path_, Problem, format_path
from axowrap.spec.layers import Sources, merge_into, record
from axowrap.yamlio import parse_yaml

LABEL = "--set "
_PART = re.compile(r"([^\[\]]+)((?:\[\d+\])*)")


def parse_key(key: str) -> Path_:
    """`datasets[0].format` -> ("datasets", 0, "format")."""
    out: list[str | int] = []
    for part in key.split("."):
        m = _PART.fullmatch(part)
        if not m:
            raise UsageError(f"bad key {key!r}", hint="e.g. lora_r, training.learning_rate, datasets[0].format")
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return tuple(out)


@dataclass(frozen=True)
class Override:
    """One `--set KEY=VALUE`: the key path, the value as YAML reads it, and the text given."""

    path: Path_
    value: Any
    text: str

    @property
    def key(self) -> str:
        return format_path(self.path)

    @property
    def label(self) -> str:
        """The layer name in Spec.sources (and the `file` of problems it causes)."""
        return f"{LABEL}{self.text}"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


def is_override(label: str) -> bool:
    return label.startswith(LABEL)


def parse_override(text: str) -> list[Override]:
    """`KEY=VALUE` -> its override(s); UsageError naming the text when it cannot be read."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set {text!r}: expected KEY=VALUE", hint="e.g. --set training.learning_rate=1e-4")
    path = parse_key(key.strip())
    try:
        value = parse_yaml(raw, f"--set {text}").data
    except ValidationFailed as exc:
        raise UsageError(
            f"--set {text!r}: the value is not YAML ({exc.problems[0].message})",
            hint="quote it for the shell and for YAML, e.g. --set 'datasets[0].prompt=\"Q: {instruction}\"'",
        ) from None
    if path == ("compute", "target") and isinstance(value, str) and ":" in value:
        name, _, count = value.partition(":")
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"--set {text!r}: the GPU count after ':' must be a positive integer")
        return [Override(path, name, text), Override(("compute", "gpus_per_node"), int(count), text)]
    return [Override(path, value, text)]


def parse_overrides(texts: Iterable[str]) -> tuple[Override, ...]:
    return tuple(o for text in texts for o in parse_override(text))


def _nested(path: Path_, value: Any) -> Any:
    for part in reversed(path):
        value = {part: value}
    return value


def apply(data: dict[str, Any], sources: Sources, override: Override) -> Problem | None:
    """Lay `override` over `data` (recording it in `sources`); a Problem when its path cannot
    exist (an index past the end of a list, a key below a value that is not a mapping)."""
    path = override.path
    node: Any = data
    for i, part in enumerate(path):
        here = path[: i + 1]
        last = i == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                return _bad(override, path[:i], f"{format_path(path[:i])} is not a list, so it has no [{part}]")
            if part >= len(node):
                return _bad(
                    override,
                    here,
                    f"{format_path(path[:i])} has {len(node)} entr{'y' if len(node) == 1 else 'ies'}, "
                    f"so [{part}] does not exist",
                    hint="a --set can change a list entry, not add one: set the whole list instead",
                )
            if last:
                node[part] = override.value
                record(sources, here, override.value, override.label)
                return None
            node = node[part]
            continue
        if not isinstance(node, dict):
            return _bad(override, path[:i], f"{format_path(path[:i])} is not a mapping, so it has no key {part!r}")
        if all(isinstance(p, str) for p in path[i:]):
            merge_into(node, _nested(path[i:], override.value), override.label, sources, path[:i])
            return None
        if part not in node:
            return _bad(override, here, f"{format_path(here)} is not set, so it has no {format_path(path[i + 1 :])}")
        node = node[part]
    return None


def _bad(override: Override, path: Path_, message: str, hint: str | None = None) -> Problem:
    return Problem(path=path, message=message, file=override.label, hint=hint)


def touches(override: Override, path: Path_) -> bool:
    """Whether a problem at `path` is about what `override` set (at, below or above its key)."""
    n = min(len(path), len(override.path))
    return tuple(path[:n]) == tuple(override.path[:n])


def relocate(problem: Problem, overrides: Iterable[Override]) -> Problem | None:
    """The problem, located at the `--set` that caused it (None when no override touches it)."""
    found = [o for o in overrides if touches(o, problem.path)]
    if not found:
        return None
    return Problem(
        path=problem.path,
        message=problem.message,
        file=found[-1].label,
        hint=problem.hint,
        severity=problem.severity,
        extra=problem.extra,
    )
