"""`axowrap data check`: run the structural, content and token checks over a spec's datasets
(local files and Hub datasets) or one data file, and collect the findings into one report.

Repeated findings are capped: the first SHOWN_PER_CATEGORY of each kind keep their lines, the
rest are counted ("... and 990 more"). With `weight:` on the datasets, the report says each
dataset's share of the mixture, in rows and in tokens."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axowrap.data.content import CONTENT_CATEGORIES, ContentCheck
from axowrap.data.formats import (
    CATEGORIES,
    FORMATS,
    Layout,
    detect_format,
    guess_fields,
    layout_for,
)
from axowrap.data.readers import Unreadable, excerpt, iter_rows, location_name, the_row
from axowrap.data.scan import scan_rows
from axowrap.errors import UsageError

if TYPE_CHECKING:
    from axowrap.spec.model import Spec

SHOWN_PER_CATEGORY = 10
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
    hub: dict[str, Any] | None = None  # a Hub dataset: id, revision, commit, subset, split, files
    max_rows: int | None = None  # only the first rows were read


@dataclass
class DataReport:
    datasets: list[DatasetReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # at most SHOWN_PER_CATEGORY each
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (severity, category) -> n
    notes: list[str] = field(default_factory=list)
    mixture: list[dict[str, Any]] | None = None  # per dataset: weight, rows, share of rows and tokens

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

    def hidden(self, severity: str, category: str) -> int:
        """Findings of this kind counted but not listed."""
        return max(0, self.counts[(severity, category)] - SHOWN_PER_CATEGORY)

    def grouped(self) -> list[tuple[str, str, list[Finding], int]]:
        """(severity, category, the listed findings, how many more) in summary order."""
        return [
            (sev, cat, [f for f in self.findings if (f.severity, f.category) == (sev, cat)], self.hidden(sev, cat))
            for sev, cat, _ in self.summary()
        ]

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
            "not_listed": [{"severity": s, "category": c, "count": more} for s, c, _, more in self.grouped() if more],
            "mixture": self.mixture,
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
    path: Path | list[Path],
    layout: Layout,
    *,
    shown: str | None = None,
    holdout: tuple[float, int] | None = None,
    holdout_file: Path | None = None,
    token_counter: Any = None,
    max_rows: int | None = None,
) -> DatasetReport:
    """Check one dataset (a file, or a Hub dataset's files): every row structurally, then
    across rows; tokens if a counter is given; only the first `max_rows` rows when given."""
    files = path if isinstance(path, list) else [path]
    several = len(files) > 1
    shown = shown or str(files[0])
    content = ContentCheck(layout, holdout)
    if holdout_file is not None:
        for where, row in iter_rows(holdout_file):
            content.add_held(row, (str(holdout_file), where))
    ds = DatasetReport(shown, layout.format, max_rows=max_rows)
    unit = location_name(files[0])
    # other processes only when nothing else needs the rows themselves or stops early
    parallel = token_counter is None and max_rows is None
    left = max_rows  # rows (readable or not) still to read; None: all
    for file in files:
        name = f"{shown}/{file.name}" if several else shown
        index = content.file_index(name)
        read = 0
        for where, facts, row in islice(scan_rows(file, layout, holdout, parallel=parallel), left):
            read += 1
            if isinstance(facts, Unreadable):
                report.add(Finding(facts.category, facts.reason, name, where, unit, facts.excerpt))
                continue
            found = content.add(facts, index, where, row)
            if found or facts[0]:
                text = excerpt(_row_text(the_row(row)))
                for category, message, severity in facts[0] + found:
                    report.add(Finding(category, message, name, where, unit, text, severity))
            if token_counter is not None and isinstance(row, dict):
                token_counter.add(row)
        if left is not None:
            left -= read
            if left <= 0:
                break
    ds.rows = content.rows  # every readable row
    for category, message, severity in content.finish():
        report.add(Finding(category, message, shown, None, unit, "", severity))
    ds.detected = {str(k): v for k, v in content.detected.items()}
    if token_counter is not None:
        ds.tokens = token_counter.result()
    return ds


def check_file(path: Path, fmt: str | None = None, *, tokens: bool = True, max_rows: int | None = None) -> DataReport:
    """Check one data file in format `fmt` (detected from its first rows when None)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if path.suffix.lower() == ".txt" and fmt not in (None, "text"):
        raise UsageError(
            f"{path}: a .txt file is read as text rows (one row per line), not as {fmt!r} rows",
            hint="use --format text, or give the rows as .jsonl/.json/.csv/.parquet",
        )
    layout = sniff_layout(path, fmt)
    report = DataReport()
    counter = None
    if tokens:
        from axowrap.data.tokens import TokenCounter

        counter = TokenCounter.approximate(layout)
        report.notes.append(counter.note)
    report.datasets.append(check_dataset(report, path, layout, token_counter=counter, max_rows=max_rows))
    return report


def check_spec_data(
    spec: Spec, fmt: str | None = None, *, tokens: bool = True, progress: bool = True, max_rows: int | None = None
) -> DataReport:
    """Check every dataset of a spec (Hub datasets from the cache, or downloaded first), with
    its fields, roles, chat template, held-out split, row limit and model.
    (Load the spec with the rule `dataset_rows` skipped: this report covers every row itself.)"""
    from axowrap.data.mixture import table, weights_of
    from axowrap.data.sources import open_source
    from axowrap.data.split import row_limit

    ev = spec.data.get("eval") or {}
    training = spec.data.get("training") or {}
    holdout = None
    holdout_file = None
    if "holdout_file" in ev:
        holdout_file = spec.local_path(ev["holdout_file"])
    elif ev.get("holdout"):
        holdout = (float(ev["holdout"]), int(training["seed"]))
    report = DataReport()
    judge = spec_template(spec)
    for i, entry in enumerate(spec.data["datasets"]):
        source = open_source(spec, i, progress=progress)
        if source.hub is not None:
            hub = source.hub
            report.notes.append(
                f"datasets[{i}]: Hub dataset {hub.repo_id} at {hub.sha[:12]} ({hub.revision}), split {hub.split!r}"
                + (f", subset {hub.name!r}" if hub.name else "")
                + f": {len(hub.files)} file(s)"
                + (" from the cache (the Hub was not asked)" if hub.source == "cache" else "")
            )
        layout = dataset_layout(entry, fmt, judge)
        counter = None
        if tokens:
            from axowrap.data.tokens import counter_for_spec

            counter = counter_for_spec(spec, entry, layout)
            if counter.note not in report.notes:
                report.notes.append(counter.note)
        ds = check_dataset(
            report,
            source.files,
            layout,
            shown=entry["path"],
            holdout=holdout,
            holdout_file=holdout_file,
            token_counter=counter,
            max_rows=row_limit(entry, max_rows),
        )
        ds.hub = source.hub.to_json() if source.hub is not None else None
        report.datasets.append(ds)
    weights = weights_of(spec.data["datasets"])
    if weights is not None:
        keep = 1 - holdout[0] if holdout else 1.0  # the mixture is made of the training rows
        rows = [round(d.rows * keep) for d in report.datasets]
        counted = [d.tokens["tokens"] if d.tokens else None for d in report.datasets]
        report.mixture = table(
            [d.file for d in report.datasets],
            weights,
            rows,
            [round(t * keep) for t in counted if t is not None] if all(t is not None for t in counted) else None,
        )
    return report


def spec_template(spec: Spec) -> Any:
    """The judge of the chat template the spec's run will use (None when unknown or not chat)."""
    from axowrap.data.roles import judge_for

    if not any(d.get("format") in ("messages", "sharegpt", "preference", "kto") for d in spec.data["datasets"]):
        return None
    name = (spec.data.get("axolotl") or {}).get("chat_template") or spec.data.get("chat_template")
    base = str(spec.data["base_model"])
    return judge_for(str(name) if name else None, spec.local_path(base, model=True))


def dataset_layout(entry: dict[str, Any], fmt: str | None = None, template: Any = None) -> Layout:
    """The layout of a spec `datasets:` entry (its format, fields and roles, and the run's
    chat template judge when known)."""
    fmt = fmt or entry.get("format") or "alpaca"
    return layout_for(fmt, entry.get("fields"), entry.get("roles"), template)
