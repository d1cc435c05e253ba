"""`axowrap plan`: GPU memory by component, fit per target, what would make it fit, time,
cost and disk, before any GPU time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command("plan")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option(
    "--target", "targets", multiple=True, help="GPU[:N] to plan for, repeatable (default: the spec's compute.target)."
)
@click.option(
    "--throughput",
    type=float,
    default=None,
    help="Tokens per second per GPU (default: from the GPU's TFLOPs at 35% utilization).",
)
@click.option(
    "--price", type=float, default=None, help="Price per GPU-hour (default: a typical on-demand price for the GPU)."
)
@click.option("--no-data", is_flag=True, help="Do not read the data (no token count, no time or cost).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
def command(
    spec: Path, targets: tuple[str, ...], throughput: float | None, price: float | None, no_data: bool, as_json: bool
) -> None:
    """Plan SPEC: memory per GPU by component, a verdict per target, and time/cost/disk.

    Model dimensions come from the base model's config.json when it is a local folder, else
    from a built-in table of popular families. The formula is in the README ("How the plan
    estimates memory"). Exit code 1 when the spec does not fit a target.

    \b
      axowrap plan specs/sql.yaml
      axowrap plan specs/sql.yaml --target t4-16gb --target a100-80gb:2 --json
      axowrap plan specs/sql.yaml --throughput 2500 --price 1.2
    """
    from axowrap.errors import AxowrapError
    from axowrap.plan.build import plan_spec
    from axowrap.targets import Target, parse_target
    from axowrap.validate import load_spec

    parsed: list[Target | None] = [parse_target(t) for t in targets] or [None]
    loaded = load_spec(spec)
    plans = [plan_spec(loaded, t, throughput=throughput, price=price, tokens=not no_data) for t in parsed]
    if as_json:
        click.echo(json.dumps({"ok": all(p.fits for p in plans), "plans": [p.to_json() for p in plans]}, indent=2))
    else:
        for p in plans:
            _print(p.to_json())
    bad = [p.target.name for p in plans if not p.fits]
    if bad:
        raise AxowrapError(f"does not fit: {', '.join(bad)}", hint="apply one of the recommendations above")


def _print(plan: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    m, t, s = plan["model"], plan["target"], plan["setup"]
    console.print(
        f"[bold]{m['name']}[/bold] ({m['params'] / 1e9:.2f}B params, {m['source']}) on "
        f"[bold]{t['name']} x{t['gpus']}[/bold]: {s['method']} {s['bits']}-bit, micro batch {s['micro_batch']} x "
        f"{s['sequence_len']} tokens, {s['optimizer']}, checkpointing {'on' if s['checkpointing'] else 'off'}, {s['strategy']}"
    )
    table = Table("component", "GB per GPU", title="memory")
    for name, gb in plan["memory_gb"].items():
        table.add_row(name, f"{gb:.2f}")
    table.add_row("[bold]total[/bold]", f"[bold]{plan['total_gb']:.2f}[/bold]")
    console.print(table)
    verdict = "[green]fits[/green]" if plan["fits"] else "[red]does not fit[/red]"
    console.print(f"verdict: {verdict} in {t['limit']} (headroom {plan['headroom_gb']:+.2f} GB)")
    if plan["recommendations"]:
        rec = Table("change", "new total GB", "fits", title="what would make it fit")
        for r in plan["recommendations"]:
            rec.add_row(r["change"], f"{r['total_gb']:.2f}", "yes" if r["fits"] else "no")
        console.print(rec)
    tm = plan["time"]
    if "hours" in tm:
        console.print(
            f"time: {tm['tokens']:,} tokens at {tm['tokens_per_s_per_gpu']:,} tokens/s per GPU ({tm['throughput_source']}) "
            f"= {tm['hours']:.2f} h, {tm['gpu_hours']:.2f} GPU-hours x ${tm['price_per_gpu_hour']:.2f} = ${tm['cost']:.2f}"
        )
    elif tm:
        console.print(f"time: {tm.get('note', '')}")
    disk = Table("file", "GB", title="disk")
    for name, gb in plan["disk_gb"].items():
        disk.add_row(name, f"{gb:.2f}")
    console.print(disk)
    for note in plan["notes"]:
        console.print(f"note: {note}")
