"""Rules a schema cannot express: combinations that would fail later, on a GPU, if let through."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from axowrap.files import kind
from axowrap.objectives import OBJECTIVES, objective_of
from axowrap.problems import Problem
from axowrap.spec.model import Spec

FORMAT_FIELDS = {
    "preference": "chosen/rejected fields",
    "kto": "a `label` field (true/false)",
    "alpaca": "instruction/output fields (the output is the reference answer)",
}


def _mode(path: object) -> int | None:
    try:
        return os.stat(str(path)).st_mode
    except (OSError, ValueError):
        return None


def datasets_exist(spec: Spec) -> Iterator[Problem]:
    for i, entry in enumerate(spec.data.get("datasets") or []):
        path = entry.get("path", "")
        local = spec.local_path(path)
        if local is None:
            continue
        mode = _mode(local)
        if mode is None:
            yield spec.problem(
                ("datasets", i, "path"),
                f"dataset file {path!r} not found (looked for {local})",
                hint="paths are relative to the spec file; a Hub dataset id looks like `owner/name`",
            )
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            yield spec.problem(
                ("datasets", i, "path"),
                f"dataset {path!r} is {kind(mode)}, not a data file (datasets reads files and folders)",
                hint="point it at a .jsonl, .json, .csv or .parquet file",
            )


def base_model_is_a_model(spec: Spec) -> Iterator[Problem]:
    """A local base model is a folder with a config.json: Transformers' from_pretrained
    (which Axolotl calls) refuses anything else (and `/` must not be hashed as a model)."""
    base = str(spec.data["base_model"])
    local = spec.local_path(base, model=True)
    if local is None:
        return
    mode = _mode(local)
    if mode is None:  # a warning: a script may make the folder (import-gguf, a download) before `run`
        yield spec.problem(
            ("base_model",),
            f"local model folder {base!r} not found (looked for {local}); training needs it",
            hint="paths are relative to the spec file; a Hub model id looks like `owner/name`",
            severity="warning",
        )
    elif not stat.S_ISDIR(mode) or _mode(local / "config.json") is None:
        yield spec.problem(
            ("base_model",),
            f"{base!r} is not a model folder: {local} has no config.json",
            hint="point it at a folder saved with save_pretrained (config.json + weights), "
            "or turn a GGUF into one with `axowrap import-gguf`",
        )


def format_fits_task(spec: Spec) -> Iterator[Problem]:
    objective = objective_of(spec.preset)
    for i, entry in enumerate(spec.data.get("datasets") or []):
        fmt = entry.get("format")
        if objective.formats and fmt not in objective.formats:
            yield spec.problem(
                ("datasets", i, "format"),
                f"task {spec.data['task']!r} ({objective.name}) trains on {' or '.join(objective.formats)} rows,"
                f" but this dataset is {fmt!r}",
                hint=f"use `format: {objective.formats[0]}` with {FORMAT_FIELDS[objective.formats[0]]}",
            )
        if not objective.formats and fmt in ("preference", "kto"):
            tasks = sorted(n for n, o in OBJECTIVES.items() if fmt in o.formats)
            yield spec.problem(
                ("datasets", i, "format"),
                f"{fmt} data needs task {', '.join(map(repr, tasks))}, not {spec.data['task']!r}",
            )
        if fmt == "alpaca" and "type" not in entry:
            fields = entry.get("fields", {})
            for need in ("instruction", "output"):
                if need not in fields:
                    yield spec.problem(
                        ("datasets", i, "fields"),
                        f"alpaca rows need a column for {need!r}",
                        hint=f"add `fields: {{{need}: COLUMN}}`",
                    )
        if fmt == "alpaca" and "prompt" in entry and "{instruction}" not in entry["prompt"]:
            yield spec.problem(("datasets", i, "prompt"), "the prompt layout must contain '{instruction}'")


def classify_labels(spec: Spec) -> Iterator[Problem]:
    if spec.data["task"] == "classify" and not spec.data.get("labels"):
        yield spec.problem(
            ("labels",),
            "task 'classify' needs `labels:` (the list of classes)",
            hint="e.g. labels: [positive, negative]",
        )
    if spec.data["task"] != "classify" and spec.data.get("labels"):
        yield spec.problem(("labels",), "`labels` only applies to task 'classify'", severity="warning")


def method_fits_target(spec: Spec) -> Iterator[Problem]:
    target = spec.data.get("compute", {}).get("target")
    method = spec.data.get("method")
    if method == "qlora" and target == "cpu":
        yield spec.problem(
            ("method",),
            "qlora loads the base in 4 bit with bitsandbytes, which needs a CUDA GPU; target is 'cpu'",
            hint="use `method: lora` on CPU",
        )
    overrides = spec.data.get("axolotl") or {}
    if method == "qlora" and overrides.get("load_in_4bit") is False:
        yield spec.problem(
            ("axolotl", "load_in_4bit"),
            "qlora needs a 4-bit base load; `load_in_4bit: false` contradicts `method: qlora`",
        )
    if method == "full" and "lora" in spec.docs.get(spec.source_of(("lora",)), spec.doc).data:
        yield spec.problem(("lora",), "`lora` settings are ignored with `method: full`", severity="warning")


def packing_fits_task(spec: Spec) -> Iterator[Problem]:
    objective = objective_of(spec.preset)
    if not objective.packs and spec.data.get("training", {}).get("sample_packing"):
        yield spec.problem(
            ("training", "sample_packing"),
            f"sample packing is not supported for {objective.name} training",
            hint="set `sample_packing: false`",
        )


def eval_choices(spec: Spec) -> Iterator[Problem]:
    ev = spec.data.get("eval") or {}
    if "holdout" in ev and "holdout_file" in ev:
        yield spec.problem(
            ("eval", "holdout_file"),
            "give either `holdout` (a fraction) or `holdout_file`, not both",
            hint="set `holdout: null` to drop the preset's fraction",
        )
    if "holdout_file" in ev:
        local = spec.local_path(ev["holdout_file"])
        if local is None or not local.exists():
            yield spec.problem(("eval", "holdout_file"), f"held-out file {ev['holdout_file']!r} not found")


def export_needs_merge(spec: Spec) -> Iterator[Problem]:
    export = spec.data.get("export") or {}
    if spec.data.get("method") == "full":
        return
    if export.get("gguf") and not export.get("merge"):
        yield spec.problem(
            ("export", "gguf"),
            "GGUF files are made from the merged model, but `export.merge` is false",
            hint="set `export.merge: true` or remove `export.gguf`",
        )
    if (export.get("hub") or {}).get("merged") and not export.get("merge"):
        yield spec.problem(("export", "hub", "merged"), "uploading a merged model needs `export.merge: true`")
