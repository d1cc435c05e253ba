"""The structural data check as spec rules, so `axowrap validate` runs it on local datasets.

Light on purpose (no tokenizer, no duplicate index): validate must stay fast. A file with
many bad rows gives a few problems and a count, not thousands of lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from axowrap.data.formats import FORMATS, check_row, layout_for
from axowrap.data.readers import Unreadable, iter_rows, location_name
from axowrap.errors import AxowrapError
from axowrap.problems import Problem
from axowrap.spec.model import Spec

SHOWN = 5
MAX_ROWS = 200_000  # validate checks the start of very large files; `data check` reads them all


def dataset_rows(spec: Spec) -> Iterator[Problem]:
    """Each local dataset's rows against its declared format, fields and roles."""
    for i, entry in enumerate(spec.data.get("datasets") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            continue  # the schema check reports it
        fmt = entry.get("format")
        fields, roles = entry.get("fields") or {}, entry.get("roles") or {}
        local = spec.local_path(entry["path"])
        if fmt not in FORMATS or "type" in entry or local is None or not local.is_file():
            continue
        if (
            not isinstance(fields, dict)
            or not isinstance(roles, dict)
            or not all(isinstance(v, list) for v in roles.values())
        ):
            continue
        layout = layout_for(fmt, fields, roles)
        counts: Counter[str] = Counter()
        shown = 0
        try:
            for n, (where, row) in enumerate(iter_rows(local)):
                if n >= MAX_ROWS:
                    break
                issues = (
                    [("invalid JSON", row.reason, "error")] if isinstance(row, Unreadable) else check_row(layout, row)
                )
                for category, message, severity in issues:
                    if severity != "error":
                        continue
                    counts[category] += 1
                    if shown < SHOWN:
                        shown += 1
                        yield Problem(
                            ("datasets", i, "path"),
                            f"{location_name(local)} {where}: {category}: {message}",
                            file=str(local),
                            line=where,
                            hint="run `axowrap data check` for every finding",
                        )
        except AxowrapError as exc:
            yield spec.problem(("datasets", i, "path"), exc.message, hint=exc.hint)
            continue
        hidden = sum(counts.values()) - shown
        if hidden > 0:
            summary = ", ".join(f"{n} {c}" for c, n in counts.most_common())
            yield spec.problem(
                ("datasets", i, "path"),
                f"{entry['path']}: {sum(counts.values())} row error(s) in all ({summary}); {shown} shown",
                hint=f"axowrap data check {spec.path}",
            )
