"""Rules a schema cannot express: combinations that would fail later, on a GPU, if let through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from axowrap.problems import Problem
from axowrap.spec import Spec

LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".arrow", ".txt")
Rule = Callable[[Spec], Iterator[Problem]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def local_path(spec: Spec, path: str) -> Path | None:
    """The local file or folder `path` names (relative to the spec), or None for a Hub id."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = spec.base_dir / candidate
    if candidate.exists() or path.lower().endswith(LOCAL_SUFFIXES) or path.startswith((".", "/", "~")):
        return candidate
    return None


@rule
def datasets_exist(spec: Spec) -> Iterator[Problem]:
    for i, entry in enumerate(spec.data.get("datasets") or []):
        path = entry.get("path", "")
        local = local_path(spec, path)
        if local is not None and not local.exists():
            yield spec.problem(
                ("datasets", i, "path"),
                f"dataset file {path!r} not found (looked for {local})",
                hint="paths are relative to the spec file; a Hub dataset id looks like `owner/name`",
            )


@rule
def format_fits_task(spec: Spec) -> Iterator[Problem]:
    preference = spec.preset.rl is not None
    for i, entry in enumerate(spec.data.get("datasets") or []):
        fmt = entry.get("format")
        if preference and fmt != "preference":
            yield spec.problem(
                ("datasets", i, "format"),
                f"task {spec.data['task']!r} trains on preference pairs, but this dataset is {fmt!r}",
                hint="use `format: preference` with chosen/rejected fields",
            )
        if not preference and fmt == "preference":
            yield spec.problem(
                ("datasets", i, "format"),
                f"preference data needs task 'dpo' or 'orpo', not {spec.data['task']!r}",
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


@rule
def classify_labels(spec: Spec) -> Iterator[Problem]:
    if spec.data["task"] == "classify" and not spec.data.get("labels"):
        yield spec.problem(
            ("labels",),
            "task 'classify' needs `labels:` (the list of classes)",
            hint="e.g. labels: [positive, negative]",
        )
    if spec.data["task"] != "classify" and spec.data.get("labels"):
        yield spec.problem(("labels",), "`labels` only applies to task 'classify'", severity="warning")


@rule
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


@rule
def packing_fits_task(spec: Spec) -> Iterator[Problem]:
    if spec.preset.rl and spec.data.get("training", {}).get("sample_packing"):
        yield spec.problem(
            ("training", "sample_packing"),
            f"sample packing is not supported for {spec.preset.rl} training",
            hint="set `sample_packing: false`",
        )


@rule
def eval_choices(spec: Spec) -> Iterator[Problem]:
    ev = spec.data.get("eval") or {}
    if "holdout" in ev and "holdout_file" in ev:
        yield spec.problem(
            ("eval", "holdout_file"),
            "give either `holdout` (a fraction) or `holdout_file`, not both",
            hint="set `holdout: null` to drop the preset's fraction",
        )
    if "holdout_file" in ev:
        local = local_path(spec, ev["holdout_file"])
        if local is None or not local.exists():
            yield spec.problem(("eval", "holdout_file"), f"held-out file {ev['holdout_file']!r} not found")


@rule
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


@rule
def compute_strategy(spec: Spec) -> Iterator[Problem]:
    compute = spec.data.get("compute") or {}
    total = compute.get("gpus_per_node", 1) * compute.get("nodes", 1)
    strategy = compute.get("strategy", "ddp")
    if compute.get("target") == "cpu" and total > 1 and strategy != "ddp":
        yield spec.problem(("compute", "strategy"), f"{strategy} needs GPUs; on CPU only ddp runs")
    if compute.get("offload") == "cpu" and strategy not in ("zero3", "fsdp2"):
        yield spec.problem(("compute", "offload"), f"CPU offload needs strategy zero3 or fsdp2, not {strategy!r}")


def check_rules(spec: Spec) -> list[Problem]:
    return [p for fn in RULES for p in fn(spec)]


from axowrap.datacheck import rules as _datacheck_rules  # noqa: E402,F401  (registers rules)
from axowrap.evaluation import gate as _eval_gate  # noqa: E402,F401  (registers rules)
from axowrap.gguf import preflight as _gguf_preflight  # noqa: E402,F401  (registers rules)
from axowrap.hub import rules as _hub_rules  # noqa: E402,F401  (registers rules)
from axowrap.launch import rules as _launch_rules  # noqa: E402,F401  (registers rules)
from axowrap.plan import rules as _plan_rules  # noqa: E402,F401  (registers rules)
