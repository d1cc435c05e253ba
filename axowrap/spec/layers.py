"""Layered merging of spec documents, remembering which layer set each value.

Rules (documented in the README): mappings merge key by key, recursively; lists and scalars
replace; an explicit `null` removes the key. Later layers win.
"""

from __future__ import annotations

from typing import Any

from axowrap.problems import Path_

Sources = dict[Path_, str]


def _forget(sources: Sources, path: Path_, old: Any) -> None:
    """Drop what `sources` says about `path` and, when its old value was a mapping, below it."""
    sources.pop(path, None)
    if isinstance(old, dict) and old:  # only then can entries below `path` exist (linear, not per key)
        for key in [k for k in sources if len(k) > len(path) and k[: len(path)] == path]:
            del sources[key]


def _record(sources: Sources, path: Path_, value: Any, label: str) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _record(sources, (*path, k), v, label)
    else:
        sources[path] = label


def merge_into(base: dict[str, Any], layer: dict[str, Any], label: str, sources: Sources, path: Path_ = ()) -> None:
    for key, value in layer.items():
        here = (*path, key)
        if value is None:
            _forget(sources, here, base.pop(key, None))
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_into(base[key], value, label, sources, here)
        else:
            _forget(sources, here, base.get(key))
            base[key] = _copy(value)
            _record(sources, here, value, label)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def layered(layers: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], Sources]:
    """Merge `(label, mapping)` layers in order; returns the result and its provenance."""
    result: dict[str, Any] = {}
    sources: Sources = {}
    for label, layer in layers:
        merge_into(result, layer, label, sources)
    return result, sources
