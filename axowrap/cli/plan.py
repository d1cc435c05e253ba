"""`axowrap plan`: GPU memory by component, fit per target, what would make it fit, time,
cost and disk, before any GPU time; and plan vs what a finished run measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option, set_option, target_option


@click.command("plan")
@click.argument("spec", type=click.Path(path_type=Path), required=False, shell_complete=complete.specs)
@target_option("GPU[:N] to plan for, repeatable (default: the spec's compute.target).", multiple=True)
@click.option(
    "--throughput",
    type=float,
    default=None,
    help="Tokens per second per GPU (default: from the GPU's TFLOPs at 35% utilization, or its calibration).",
)
@click.option(
    "--price", type=float, default=None, help="Price per GPU-hour (default: a typical on-demand price for the GPU)."
)
@click.option(
    "--images", type=click.IntRange(min=0), default=None, help="Images per sample (vision models; default 1)."
)
@click.option("--no-data", is_flag=True, help="Do not read the data (no token count: time and cost unknown).")
@click.option(
    "--from-run", "from_run", type=click.Path(path_type=Path), default=None, help="Plan vs what the run measured."
)
@click.option(
    "--calibrate",
    "calibrate",
    type=click.Path(path_type=Path),
    multiple=True,
    help="Fit overhead and utilization for the runs' target from finished runs (repeatable); later plans use them.",
)
@set_option
@json_option
def command(
    spec: Path | None,
    targets: tuple[str, ...],
    throughput: float | None,
    price: float | None,
    images: int | None,
    no_data: bool,
    from_run: Path | None,
    calibrate: tuple[Path, ...],
    overrides: tuple[Any, ...],
    as_json: bool,
) -> None:
    """Plan SPEC: memory per GPU by component, a verdict per target, and time/cost/disk.

    The model's shape comes from its config.json: a local folder's, the Hugging Face cache's,
    or the Hub's (only config.json is fetched; HF_HUB_OFFLINE, HF_ENDPOINT and HF_TOKEN are
    honoured), else from a built-in table of popular families. docs/plan.md states every
    formula. Exit code 1 when the spec does not fit a target.

    \b
      axowrap plan specs/sql.yaml
      axowrap plan specs/sql.yaml --target t4-16gb --target a100-80gb:2 --json
      axowrap plan specs/sql.yaml --throughput 2500 --price 1.2
      axowrap plan --from-run runs/sql-3f2a9c1d          # plan vs measured peak memory and tokens/s
      axowrap plan --calibrate runs/a runs/b              # fit overhead and utilization for their GPU
      axowrap plan specs/sql.yaml --set training.micro_batch_size=8
    """
    modes = sum(bool(x) for x in (spec, from_run, calibrate))
    if modes != 1:
        raise click.UsageError("give one of: SPEC, --from-run RUN, --calibrate RUN...")
    if from_run is not None:
        _from_run(from_run, as_json)
        return
    if calibrate:
        _calibrate(list(calibrate), as_json)
        return
    from axowrap.errors import AxowrapError
    from axowrap.plan.build import plan_spec
    from axowrap.validate import load_spec

    assert spec is not None
    loaded = load_spec(spec, overrides=overrides)
    asked: list[str | None] = list(targets) or [None]
    plans = [plan_spec(loaded, t, throughput=throughput, price=price, tokens=not no_data, images=images) for t in asked]
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(all(p.fits for p in plans), plans=[p.to_json() for p in plans])
    else:
        for p in plans:
            _print(p.to_json())
    bad = [p.target.name for p in plans if not p.fits]
    if bad:
        raise AxowrapError(f"does not fit: {', '.join(bad)}", hint="apply one of the recommendations above")


def _gb(low: float, high: float) -> str:
    return f"{low:.1f}-{high:.1f}"


def _print(plan: dict[str, Any]) -> None:
    from axowrap.cli.style import console as make_console
    from axowrap.cli.style import escape
    from axowrap.cli.style import table as Table

    console = make_console()
    m, t, s = plan["model"], plan["target"], plan["setup"]
    size = f"{m['params'] / 1e9:.2f}B params"
    if m["experts"]:
        size += f", {m['active_params'] / 1e9:.2f}B active per token"
    speed = [name for name, on in (("liger", s["liger"]), ("lora kernels", s["lora_kernels"])) if on]
    speed += {"fused": ["fused cross-entropy"], "cut": ["cut cross-entropy"]}.get(s["loss"], [])
    console.print(
        f"[bold]{escape(m['name'])}[/bold] ({size}, {escape(m['source'])}) on "
        f"[bold]{t['name']} x{t['gpus']}[/bold]: {s['method']} {s['bits']}-bit, micro batch {s['micro_batch']} x "
        f"{s['sequence_len']} tokens, {s['optimizer']}, checkpointing {'on' if s['checkpointing'] else 'off'}, "
        f"{s['strategy']}, {'flash attention' if s['flash_attention'] else 'sdpa'}"
        + (f", {', '.join(speed)}" if speed else "")
    )
    table = Table(console, "component", "GB per GPU", title="memory")
    for name, gb in plan["memory_gb"].items():
        table.add_row(name, f"{gb:.2f}")
    low, high = plan["total_gb_range"]
    table.add_row("[bold]total[/bold]", f"[bold]{plan['total_gb']:.2f}[/bold] (range {_gb(low, high)})")
    paged = plan["paged_gb"]
    if paged["optimizer_gb"]:
        table.add_row("paged optimizer", f"{paged['optimizer_gb']:.2f} (not in the total: can spill to CPU RAM)")
    console.print(table)
    verdict = {"fits": "[green]fits[/green]", "tight": "[yellow]fits, tightly[/yellow]"}.get(
        plan["verdict"], "[red]does not fit[/red]"
    )
    extra = f"; the range reaches {high:.1f} GB" if plan["verdict"] == "tight" else ""
    console.print(f"verdict: {verdict} in {t['limit']} (headroom {plan['headroom_gb']:+.2f} GB{extra})")
    if paged["optimizer_gb"]:
        console.print(_paged_line(escape(s["optimizer"]), paged))
    if plan["recommendations"]:
        rec = Table(console, "change", "new total GB", "fits", title="what would make it fit")
        for r in plan["recommendations"]:
            rec.add_row(escape(r["change"]), f"{r['total_gb']:.2f}", "yes" if r["fits"] else "no")
        console.print(rec)
    console.print(_time_line(plan["time"]))
    if plan.get("mixture"):
        from axowrap.cli.data import print_mixture

        print_mixture(console, plan["mixture"])
    disk = Table(console, "file", "GB", title="disk")
    for name, gb in plan["disk_gb"].items():
        disk.add_row(name, f"{gb:.2f}")
    console.print(disk)
    for note in plan["notes"]:
        console.print(f"note: {escape(note)}")


def _paged_line(optimizer: str, paged: dict[str, float]) -> str:
    """What a paged optimizer's state costs where (docs/plan.md, "paged optimizer")."""
    where = (
        "the GPU has room for all of it beside the total"
        if not paged["spill_gb"]
        else f"{paged['spill_gb']:.2f} GB of it in CPU RAM at the peak (steps wait on PCIe while it pages back)"
    )
    per_node = paged["cpu_ram_gb_per_node"]
    node = f" ({per_node:.2f} GB for all the GPUs of a node)" if per_node > paged["optimizer_gb"] else ""
    return (
        f"paged: {optimizer} keeps {paged['optimizer_gb']:.2f} GB of optimizer state per GPU in CUDA unified memory, "
        f"outside the total: {where}; CPU RAM it may need: up to {paged['optimizer_gb']:.2f} GB per GPU{node}"
    )


def _time_line(tm: dict[str, Any]) -> str:
    if "tokens_per_s_per_gpu" not in tm:
        return f"time: {tm.get('note', 'unknown')}"
    lo, hi = tm["tokens_per_s_range"]
    span = f"range {lo:,}-{hi:,}; " if lo != hi else ""
    rate = f"{tm['tokens_per_s_per_gpu']:,} tokens/s per GPU ({span}{tm['throughput_source']})"
    if tm.get("hours") is None:
        return f"time: unknown without data (--no-data); {rate}, ${tm['price_per_gpu_hour']:.2f} per GPU-hour"
    h_lo, h_hi = tm["hours_range"]
    c_lo, c_hi = tm["cost_range"]
    hours = f" ({h_lo:.2f}-{h_hi:.2f} h)" if span else ""
    cost = f" (${c_lo:.2f}-${c_hi:.2f})" if span else ""
    return (
        f"time: {tm['tokens']:,} tokens at {rate} = {tm['hours']:.2f} h{hours}, "
        f"{tm['gpu_hours']:.2f} GPU-hours x ${tm['price_per_gpu_hour']:.2f} = ${tm['cost']:.2f}{cost}"
    )


def _from_run(run: Path, as_json: bool) -> None:
    from axowrap.plan.calibrate import compare

    found = compare(run)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, **found)
        return

    def show(value: Any, unit: str) -> str:
        return "not measured" if value is None else f"{value:,} {unit}"

    click.echo(f"run {found['run']} on {found['target']} x{found['gpus']} ({found['steps']} logged steps)")
    lo, hi = found["plan_range_gb"]
    memory = f"  peak memory: plan {found['plan_total_gb']:.2f} GB (range {_gb(lo, hi)}), measured "
    if found["measured_peak_reserved_gb"] is None:
        memory += "not measured (no GPU memory in the log: a CPU run)"
    else:
        memory += (
            f"{found['measured_peak_reserved_gb']:.2f} GB reserved / {found['measured_peak_allocated_gb']:.2f} GB allocated "
            f"(measured/plan {found['memory_ratio']:.2f})"
        )
    click.echo(memory)
    speed = f"  throughput: plan {show(found['plan_tokens_per_s'], 'tokens/s per GPU')}, measured {show(found['measured_tokens_per_s'], 'tokens/s per GPU')}"
    if "speed_ratio" in found:
        speed += f" (measured/plan {found['speed_ratio']:.2f})"
    click.echo(speed)


def _calibrate(runs: list[Path], as_json: bool) -> None:
    from axowrap.plan.calibrate import calibrate
    from axowrap.targets import calibration_path

    path = calibration_path()
    written = calibrate(runs, path)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, file=str(path), targets=written)
        return
    for name, entry in written.items():
        terms = ", ".join(f"{k} {entry[k]}" for k in ("overhead_gb", "mfu") if k in entry)
        click.echo(f"{name}: {terms} (from {len(entry['runs'])} run(s))")
    click.echo(f"wrote {path}: later plans for these targets use them (a team can copy them under `targets:`)")
