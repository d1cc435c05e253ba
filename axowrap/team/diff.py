"""`axowrap diff A B`: a semantic diff of the effective Axolotl configs of two things.

Each side is a spec (rendered first: presets, extends and target adjustments applied), an
Axolotl YAML, or a run directory (its axolotl.yaml, plus its manifest: tool versions, base
model, dataset hashes, held-out split, git commit). Values are compared after parsing, so
comments, key order and formatting never show; keys are flattened (`datasets[0].path`) and sorted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABSENT = object()
# What of a manifest is worth comparing: how the run was produced, not where it lives.
MANIFEST_KEYS = ("versions", "base_model", "datasets", "holdout", "git")
MANIFEST_SKIP = frozenset({"path"})  # run-local paths differ for every run


@dataclass
class Side:
    label: str
    kind: str
    config: dict[str, Any]
    manifest: dict[str, Any] | None = None


@dataclass
class Diff:
    left: Side
    right: Side
    config: list[tuple[str, Any, Any]] = field(default_factory=list)
    manifest: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.config and not self.manifest


def flatten(value: Any, prefix: str = "", skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}; empty mappings and lists stay as values."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for k, v in value.items():
            if k not in skip:
                out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k), skip))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]", skip))
    else:
        out[prefix] = value
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, left, right) for every flattened key whose values differ; ABSENT where missing."""
    return [
        (k, a.get(k, ABSENT), b.get(k, ABSENT)) for k in sorted(set(a) | set(b)) if a.get(k, ABSENT) != b.get(k, ABSENT)
    ]


def load_side(path: Path) -> Side:
    """A spec, an Axolotl YAML or a run directory, as its effective config (+ manifest)."""
    from axowrap.errors import UsageError
    from axowrap.validate import AXOLOTL, detect, render_checked
    from axowrap.yamlio import load_yaml

    if path.is_dir():
        from axowrap.run.manifest import load_manifest
        from axowrap.run.rundir import open_run

        run = open_run(path)
        return Side(str(path), "run directory", load_yaml(run.config, yaml12_floats=False).data, load_manifest(run))
    if not path.is_file():
        raise UsageError(
            f"{path}: no such file or run directory", hint="give two specs, Axolotl YAMLs or run directories"
        )
    doc = load_yaml(path, yaml12_floats=False)
    if detect(doc) == AXOLOTL:
        return Side(str(path), "axolotl config", doc.data)
    rendered, _ = render_checked(path)
    return Side(str(path), "spec", rendered.config)


def semantic_diff(a: Path, b: Path) -> Diff:
    left, right = load_side(a), load_side(b)
    out = Diff(left, right, compare(flatten(left.config), flatten(right.config)))
    if left.manifest is not None and right.manifest is not None:

        def pick(m: dict[str, Any]) -> dict[str, Any]:
            return flatten({k: m.get(k) for k in MANIFEST_KEYS}, skip=MANIFEST_SKIP)

        out.manifest = compare(pick(left.manifest), pick(right.manifest))
    return out


def shown(value: Any) -> str:
    from axowrap.yamlemit import to_yaml

    return "(absent)" if value is ABSENT else to_yaml(value)


def format_diff(diff: Diff, width: int = 40) -> str:
    """Keys sorted, values side by side; long values are cut to `width` characters."""

    def cut(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    header = ("key", cut(diff.left.label), cut(diff.right.label))
    blocks = [("config", diff.config), ("manifest", diff.manifest)]
    rows = [
        (f"{'manifest: ' if name == 'manifest' else ''}{k}", cut(shown(a)), cut(shown(b)))
        for name, found in blocks
        for k, a, b in found
    ]
    if not rows:
        return f"no differences: {diff.left.label} ({diff.left.kind}) and {diff.right.label} ({diff.right.kind})\n"
    w0 = max(len(r[0]) for r in (header, *rows))
    w1 = max(len(r[1]) for r in (header, *rows))
    lines = [f"{k:<{w0}}  {a:<{w1}}  {b}".rstrip() for k, a, b in (header, *rows)]
    return "\n".join(lines) + f"\n{len(rows)} difference(s)\n"
