"""`axowrap data check`: run the structural, content and token checks over a spec's datasets
(or one data file) and collect the findings into one report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axowrap.data.content import CONTENT_CATEGORIES, ContentCheck
from axowrap.data.formats import (
    CATEGORIES,
    FORMATS,
    INVALID_JSON,
    WRONG_TYPE,
    Layout,
    check_row,
    detect_format,
    guess_fields,
    layout_for,
)
from axowrap.data.readers import Unreadable, excerpt, iter_rows, location_name
from axowrap.errors import UsageError

if TYPE_CHECKING:
    from axowrap.spec.model import Spec

SHOWN_PER_CATEGORY = 20
SNIFF_ROWS = 50


@dataclass(frozen=True)
class Finding:
    category: str
    message: str
    file: str
    where: int | None  # line (text files) or row index (Parquet); None: the whole file
    unit: str  # "line" or "row"
    excerpt: str
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "severity": self.severity,
            "file": self.file,
            self.unit: self.where,
            "message": self.message,
            "excerpt": self.excerpt,
        }


@dataclass
class DatasetReport:
    file: str
    format: str
    rows: int = 0
    detected: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, Any] | None = None


@dataclass
class DataReport:
    datasets: list[DatasetReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # at most SHOWN_PER_CATEGORY each
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (severity, category) -> n
    notes: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        key = (finding.severity, finding.category)
        self.counts[key] += 1
        if self.counts[key] <= SHOWN_PER_CATEGORY:
            self.findings.append(finding)

    @property
    def errors(self) -> int:
        return sum(n for (sev, _), n in self.counts.items() if sev == "error")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def summary(self) -> list[tuple[str, str, int]]:
        order = {c: i for i, c in enumerate((*CATEGORIES, *CONTENT_CATEGORIES))}
        return sorted(
            ((s, c, n) for (s, c), n in self.counts.items()), key=lambda x: (x[0] != "error", order.get(x[1], 99), x[1])
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "warnings": sum(n for (s, _), n in self.counts.items() if s != "error"),
            "summary": [{"severity": s, "category": c, "count": n} for s, c, n in self.summary()],
            "datasets": [vars(d) for d in self.datasets],
            "findings": [f.to_json() for f in self.findings],
            "notes": self.notes,
        }


def _row_text(row: Any) -> str:
    import json

    return json.dumps(row, ensure_ascii=False)[:200]


def sniff_layout(path: Path, fmt: str | None) -> Layout:
    """The layout most of the first rows fit (`fmt` if given); a clear error when none does."""
    found: Counter[str] = Counter()
    first: Any = None
    for n, (_, row) in enumerate(iter_rows(path)):
        if n >= SNIFF_ROWS:
            break
        first = row if first is None and isinstance(row, dict) else first
        guess = detect_format(row)
        if guess:
            found[guess] += 1
    if fmt is None and not found:
        raise UsageError(
            f"{path}: cannot tell the data format from its rows", hint=f"pass --format, one of: {', '.join(FORMATS)}"
        )
    fmt = fmt or found.most_common(1)[0][0]
    return layout_for(fmt, guess_fields(fmt, first))


def check_dataset(
    report: DataReport,
    path: Path,
    layout: Layout,
    *,
    shown: str | None = None,
    holdout: tuple[float, int] | None = None,
    holdout_file: Path | None = None,
    token_counter: Any = None,
) -> DatasetReport:
    """Check one data file: every row structurally, then across rows; tokens if a counter is given."""
    shown = shown or str(path)
    content = ContentCheck(layout, holdout)
    if holdout_file is not None:
        for where, row in iter_rows(holdout_file):
            content.add_held(row, (str(holdout_file), where))
    ds = DatasetReport(shown, layout.format)
    unit = location_name(path)
    for where, row in iter_rows(path):
        if isinstance(row, Unreadable):
            category = WRONG_TYPE if "values than header" in row.reason else INVALID_JSON
            report.add(Finding(category, row.reason, shown, where, unit, row.excerpt))
            continue
        ds.rows += 1
        issues = check_row(layout, row)
        issues += content.add(row, (shown, where), issues)
        if issues:
            text = excerpt(_row_text(row))
            for category, message, severity in issues:
                report.add(Finding(category, message, shown, where, unit, text, severity))
        if token_counter is not None and isinstance(row, dict):
            token_counter.add(row)
    for category, message, severity in content.finish():
        report.add(Finding(category, message, shown, None, unit, "", severity))
    ds.detected = {str(k): v for k, v in content.detected.items()}
    if token_counter is not None:
        ds.tokens = token_counter.result()
    return ds


def check_file(path: Path, fmt: str | None = None, *, tokens: bool = True) -> DataReport:
    """Check one data file in format `fmt` (detected from its first rows when None)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    layout = sniff_layout(path, fmt)
    report = DataReport()
    counter = None
    if tokens:
        from axowrap.data.tokens import TokenCounter

        counter = TokenCounter.approximate(layout)
        report.notes.append(counter.note)
    report.datasets.append(check_dataset(report, path, layout, token_counter=counter))
    return report


def check_spec_data(spec: Spec, fmt: str | None = None, *, tokens: bool = True) -> DataReport:
    """Check every local dataset of a spec, with its fields, roles, held-out split and model.
    (Load the spec with the rule `dataset_rows` skipped: this report covers every row itself.)"""
    ev = spec.data.get("eval") or {}
    training = spec.data.get("training") or {}
    holdout = None
    holdout_file = None
    if "holdout_file" in ev:
        holdout_file = spec.local_path(ev["holdout_file"])
    elif ev.get("holdout"):
        holdout = (float(ev["holdout"]), int(training["seed"]))
    report = DataReport()
    for i, entry in enumerate(spec.data["datasets"]):
        path = spec.local_path(entry["path"])
        if path is None:
            report.notes.append(f"datasets[{i}]: {entry['path']!r} is a Hub dataset: not checked (no hub access here)")
            continue
        layout = dataset_layout(entry, fmt)
        counter = None
        if tokens:
            from axowrap.data.tokens import counter_for_spec

            counter = counter_for_spec(spec, entry, layout)
            if counter.note not in report.notes:
                report.notes.append(counter.note)
        report.datasets.append(
            check_dataset(
                report,
                path,
                layout,
                shown=entry["path"],
                holdout=holdout,
                holdout_file=holdout_file,
                token_counter=counter,
            )
        )
    return report


def dataset_layout(entry: dict[str, Any], fmt: str | None = None) -> Layout:
    """The layout of a spec `datasets:` entry (its format, fields and roles)."""
    fmt = fmt or entry.get("format") or "alpaca"
    return layout_for(fmt, entry.get("fields"), entry.get("roles"))
