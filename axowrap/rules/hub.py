"""Spec-time checks of `export.hub`: every repo named must have something to upload.
(`export.hub.merged` without `export.merge` is checked by spec_rules.export_needs_merge.)"""

from __future__ import annotations

from collections.abc import Iterator

from axowrap.problems import Problem
from axowrap.spec.model import Spec


def hub_repos_have_artifacts(spec: Spec) -> Iterator[Problem]:
    export = spec.data.get("export") or {}
    hub = export.get("hub") or {}
    full = spec.data["method"] == "full"
    if hub.get("adapter") and full:
        yield spec.problem(
            ("export", "hub", "adapter"),
            "full fine-tuning makes no adapter to push",
            hint="push the trained model with export.hub.merged instead",
        )
    if hub.get("gguf") and not export.get("gguf"):
        yield spec.problem(
            ("export", "hub", "gguf"),
            "nothing to push: the spec makes no GGUF files",
            hint="list the GGUF types to make in export.gguf, e.g. [q4_k_m]",
        )
    if hub.get("private") is False and any(hub.get(k) for k in ("adapter", "merged", "gguf")):
        yield spec.problem(
            ("export", "hub", "private"),
            "the Hub repos will be created public",
            hint="remove `private: false` to keep them private",
            severity="warning",
        )
