"""The structural data check as spec rules, so `axowrap validate` runs it on local datasets,
and the rules of data files and mixtures a schema cannot say.

Light on purpose (no tokenizer, no duplicate index, no download: Hub datasets are checked by
`axowrap data check` and before a run): validate must stay fast. A file with many bad rows
gives the first few problems of each kind and a count, not thousands of lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from axowrap.data.formats import FORMATS, check_row, layout_for
from axowrap.data.readers import Unreadable, iter_rows, location_name
from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.spec.model import Spec

SHOWN = 10  # problems listed per kind; the rest are counted
MAX_ROWS = 200_000  # validate checks the start of very large files; `data check` reads them all
# What the held-out eval scores, by dataset format (axowrap.evaluation.tasks: one kind per task).
KIND = {"text": "raw text", "preference": "preference pairs"}


def dataset_rows(spec: Spec) -> Iterator[Problem]:
    """Each local dataset's rows against its declared format, fields, roles and chat template."""
    judge = None
    for i, entry in enumerate(spec.data.get("datasets") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue  # the schema check reports it
        fmt = entry.get("format")
        fields, roles = entry.get("fields") or {}, entry.get("roles") or {}
        local = spec.local_path(entry["path"])
        if fmt not in FORMATS or "type" in entry or local is None or not local.is_file():
            continue
        if local.suffix.lower() == ".txt" and fmt != "text":
            yield spec.problem(
                ("datasets", i, "format"),
                f"{entry['path']} is a .txt file, read as text rows (one per line), but the format is {fmt!r}",
                hint="use `format: text` (task completion), or give the rows as .jsonl/.json/.csv/.parquet",
            )
            continue
        if (
            not isinstance(fields, dict)
            or not isinstance(roles, dict)
            or not all(isinstance(v, list) for v in roles.values())
        ):
            continue
        if judge is None and fmt in ("messages", "sharegpt", "preference", "kto"):
            from axowrap.data.check import spec_template

            judge = spec_template(spec)
        layout = layout_for(fmt, fields, roles, judge)
        counts: Counter[str] = Counter()
        limit = entry.get("max_rows")
        try:
            for n, (where, row) in enumerate(iter_rows(local)):
                if n >= min(MAX_ROWS, limit or MAX_ROWS):
                    break
                issues = (
                    [(row.category, row.reason, "error")] if isinstance(row, Unreadable) else check_row(layout, row)
                )
                for category, message, severity in issues:
                    if severity != "error":
                        continue
                    counts[category] += 1
                    if counts[category] <= SHOWN:
                        said = message if message.startswith(category) else f"{category}: {message}"
                        yield Problem(
                            ("datasets", i, "path"),
                            f"{location_name(local)} {where}: {said}",
                            file=str(local),
                            line=where,
                            hint="run `axowrap data check` for every finding",
                        )
        except AxowrapError as exc:
            yield spec.problem(("datasets", i, "path"), exc.message, hint=exc.hint)
            continue
        for category, n in counts.most_common():
            if n > SHOWN:
                yield spec.problem(
                    ("datasets", i, "path"),
                    f"{entry['path']}: {category}: ... and {n - SHOWN} more",
                    hint=f"axowrap data check {spec.path}",
                )


def mixture_kinds(spec: Spec) -> Iterator[Problem]:
    """A `weight:` mixture whose datasets hold rows of different kinds, while the held-out eval
    (one lm-eval task: one kind of row) would score rows of both: it fails after training."""
    datasets = [d for d in spec.data.get("datasets") or [] if isinstance(d, dict)]
    ev = spec.data.get("eval") or {}
    if not any("weight" in d for d in datasets) or not ev.get("holdout") or "holdout_file" in ev:
        return
    kinds = {i: KIND.get(str(d.get("format")), "generated answers") for i, d in enumerate(datasets)}
    if len(set(kinds.values())) < 2:
        return
    first = kinds[0]
    for i, kind in kinds.items():
        if kind != first:
            yield spec.problem(
                ("datasets", i, "format"),
                f"a mixture of {first} (datasets[0], {datasets[0].get('format')!r}) and {kind} "
                f"({datasets[i].get('format')!r}): the held-out eval scores one kind of row and would fail after training",
                hint="mix datasets of one kind, or give `eval.holdout_file` with rows of one format",
            )
