"""`axowrap data check`: the dataset doctor, before any GPU time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option

SPEC_SUFFIXES = (".yaml", ".yml")


def _formats() -> list[str]:
    from axowrap.data.formats import FORMATS

    return list(FORMATS)


@click.group("data")
def command() -> None:
    """Check training data before any GPU time.

    \b
      axowrap data check specs/sql.yaml            # every dataset of a spec
      axowrap data check rows.jsonl --format sharegpt
    """


@command.command("check")
@click.argument("source", type=click.Path(path_type=Path), shell_complete=complete.specs)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_formats()),
    default=None,
    help="Row format (default: the spec's, or detected from the first rows of a file).",
)
@click.option("--no-tokens", is_flag=True, help="Skip token statistics (no tokenizer load).")
@json_option
@click.option(
    "--max-rows", type=click.IntRange(min=1), default=None, help="Check only the first N rows of each dataset."
)
def check(source: Path, fmt: str | None, no_tokens: bool, as_json: bool, max_rows: int | None) -> None:
    """Check SOURCE: a spec (all its datasets, Hub datasets too) or one data file
    (.jsonl/.json/.csv/.parquet/.arrow, or .txt: one text row per line).

    Structural errors by category with file, line and an excerpt (a bad line never stops the
    scan; the first 10 of each kind are listed, the rest counted), role order, invalid UTF-8,
    duplicates, rows shared with the held-out set, very short targets, a declared format that
    does not match the rows, each dataset's share of a `weight:` mixture, and token statistics
    (the base model's tokenizer when it is a local folder, else an approximation). A Hub
    dataset is read from the Hugging Face cache, or downloaded once (with a progress bar).
    Exit code 1 when any error exists.

    \b
      axowrap data check specs/sql.yaml
      axowrap data check data/tools.json --format sharegpt --json
    """
    from axowrap.errors import AxowrapError

    report = check_source(source, fmt, tokens=not no_tokens, progress=not as_json, max_rows=max_rows)
    if as_json:
        from axowrap.cli.envelope import print_json

        document = report.to_json()
        print_json(document.pop("ok", report.ok), **document)
    else:
        _print(report)
    if not report.ok:
        raise AxowrapError(
            f"{report.errors} error(s) in the data", hint="fix the rows above, or map fields/roles in the spec"
        )


def check_source(
    path: Path, fmt: str | None = None, *, tokens: bool = True, progress: bool = True, max_rows: int | None = None
) -> Any:
    """The data report of a spec (YAML: every dataset) or of one data file."""
    from axowrap.data.check import check_file, check_spec_data
    from axowrap.errors import AxowrapError

    if not path.exists():
        raise AxowrapError(
            f"{path}: no such file", hint="give a spec (.yaml) or a data file (.jsonl, .json, .csv, .parquet)"
        )
    if path.suffix.lower() in SPEC_SUFFIXES:
        from axowrap.validate import load_spec

        # The report covers every row itself, in more detail than the validate rule.
        spec = load_spec(path, skip=("dataset_rows",))
        _inside_repo(spec)
        return check_spec_data(spec, fmt, tokens=tokens, progress=progress, max_rows=max_rows)
    return check_file(path, fmt, tokens=tokens, max_rows=max_rows)


def _inside_repo(spec: Any) -> None:
    """The data check prints excerpts of the rows: only of files inside the spec's repo, unless
    `axowrap --allow-outside` (a spec from a pull request must not print /proc/self/environ)."""
    from axowrap.errors import ValidationFailed
    from axowrap.files import ALLOW_OUTSIDE
    from axowrap.spec.model import is_within, spec_root
    from axowrap.spec.read import outside_problem

    if ALLOW_OUTSIDE.get():
        return
    root = spec_root(spec.path)
    problems = []
    for i, entry in enumerate(spec.data.get("datasets") or []):
        local = spec.local_path(str(entry.get("path", "")))
        if local is not None and not is_within(local, root):
            problems.append(outside_problem(spec.doc, ("datasets", i, "path"), entry["path"], local.resolve(), root))
    if problems:
        raise ValidationFailed(problems)


def _print(report: Any) -> None:
    from axowrap.cli.style import console as make_console
    from axowrap.cli.style import escape
    from axowrap.cli.style import table as Table
    from axowrap.data.check import SHOWN_PER_CATEGORY

    console = make_console()
    for ds in report.datasets:
        limit = f" (the first {ds.max_rows} read)" if ds.max_rows else ""
        console.print(f"[bold]{escape(ds.file)}[/bold]: {ds.rows} rows{limit}, format {ds.format}")
    if report.findings:
        table = Table(
            console,
            "where",
            "category",
            "problem",
            "excerpt",
            title=f"findings (the first {SHOWN_PER_CATEGORY} of each kind)",
        )
        for severity, category, shown, more in report.grouped():
            colour = "red" if severity == "error" else "yellow"
            for f in shown:
                where = f"{f.file}:{f.where}" if f.where is not None else f.file
                # file names, messages and excerpts are the user's text, shown as written
                table.add_row(escape(where), f"[{colour}]{f.category}[/{colour}]", escape(f.message), escape(f.excerpt))
            if more:
                table.add_row("", f"[{colour}]{category}[/{colour}]", f"... and {more} more", "")
        console.print(table)
    if report.mixture:
        print_mixture(console, report.mixture)
    summary = Table(console, "severity", "category", "count", title="summary")
    for severity, category, n in report.summary():
        summary.add_row(severity, category, str(n))
    if report.counts:
        console.print(summary)
    for ds in report.datasets:
        if ds.tokens:
            _print_tokens(console, ds.file, ds.tokens)
    for note in report.notes:
        console.print(f"note: {note}")
    if report.ok:
        console.print(
            "[green]ok[/green]: no errors" + (f" ({sum(report.counts.values())} warning(s))" if report.counts else "")
        )


def print_mixture(console: Any, mixture: list[dict[str, Any]]) -> None:
    """Each dataset's weight and share of the mixture's rows and tokens (data check, plan)."""
    from axowrap.cli.style import escape
    from axowrap.cli.style import table as Table

    table = Table(console, "dataset", "weight", "rows", "in mix", "% rows", "% tokens", title="mixture")
    for m in mixture:
        tokens = f"{m['token_share']:.1%}" if "token_share" in m else "-"
        table.add_row(
            escape(m["source"]),
            f"{m['weight']:g}",
            str(m["rows"]),
            str(m["rows_in_mix"]),
            f"{m['row_share']:.1%}",
            tokens,
        )
    console.print(table)


def _print_tokens(console: Any, file: str, t: dict[str, Any]) -> None:
    from axowrap.cli.style import escape
    from axowrap.cli.style import table as Table

    table = Table(console, "tokens per row", "value", title=escape(f"tokens: {file} ({t['tokenizer']})"))
    for key in ("p50", "p90", "p99", "max", "tokens", "sequence_len", "rows_over_sequence_len"):
        table.add_row(key.replace("_", " "), str(t[key]))
    table.add_row("truncated token share", f"{t['truncated_token_share']:.1%}")
    table.add_row("trainable token fraction", f"{t['trainable_token_fraction']:.1%}")
    table.add_row("rows with zero trainable tokens", str(t["zero_trainable_rows"]))
    console.print(table)
    if t.get("sample"):
        console.print("[bold]first row as the model sees it:[/bold]")
        console.print(t["sample"]["text"], markup=False)
        console.print(f"EOS at the end of the target: {t['sample']['eos']}")
