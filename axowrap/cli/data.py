"""`axowrap data check`: the dataset doctor, before any GPU time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

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
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_formats()),
    default=None,
    help="Row format (default: the spec's, or detected from the first rows of a file).",
)
@click.option("--no-tokens", is_flag=True, help="Skip token statistics (no tokenizer load).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
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
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
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
        return check_spec_data(spec, fmt, tokens=tokens, progress=progress, max_rows=max_rows)
    return check_file(path, fmt, tokens=tokens, max_rows=max_rows)


def _print(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from axowrap.data.check import SHOWN_PER_CATEGORY

    console = Console(highlight=False, soft_wrap=True)
    for ds in report.datasets:
        limit = f" (the first {ds.max_rows} read)" if ds.max_rows else ""
        console.print(f"[bold]{ds.file}[/bold]: {ds.rows} rows{limit}, format {ds.format}")
    if report.findings:
        table = Table(
            "where",
            "category",
            "problem",
            "excerpt",
            title=f"findings (the first {SHOWN_PER_CATEGORY} of each kind)",
            show_lines=False,
        )
        for severity, category, shown, more in report.grouped():
            colour = "red" if severity == "error" else "yellow"
            for f in shown:
                where = f"{f.file}:{f.where}" if f.where is not None else f.file
                table.add_row(where, f"[{colour}]{f.category}[/{colour}]", f.message, f.excerpt)
            if more:
                table.add_row("", f"[{colour}]{category}[/{colour}]", f"... and {more} more", "")
        console.print(table)
    if report.mixture:
        print_mixture(console, report.mixture)
    summary = Table("severity", "category", "count", title="summary")
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
    from rich.table import Table

    table = Table("dataset", "weight", "rows", "in mix", "% rows", "% tokens", title="mixture")
    for m in mixture:
        tokens = f"{m['token_share']:.1%}" if "token_share" in m else "-"
        table.add_row(
            m["source"], f"{m['weight']:g}", str(m["rows"]), str(m["rows_in_mix"]), f"{m['row_share']:.1%}", tokens
        )
    console.print(table)


def _print_tokens(console: Any, file: str, t: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("tokens per row", "value", title=f"tokens: {file} ({t['tokenizer']})")
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
