"""`axowrap sweep`: several values of some spec keys, each point a run, ranked by the eval.

axowrap sweep SPEC --grid KEY=V1,V2 [--grid ...]     price, then run every point
axowrap sweep status [SWEEP]                          the leaderboard (and loss.png)
axowrap sweep promote POINT [--sweep SWEEP]           write a point's values into the spec
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import json_lines_option, json_option, runs_dir_option, set_option


class SweepGroup(click.Group):
    """`axowrap sweep SPEC ...` means `axowrap sweep run SPEC ...`."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


@click.group("sweep", cls=SweepGroup, subcommand_metavar="SPEC --grid KEY=V1,V2 ... | status [SWEEP] | promote POINT")
def command() -> None:
    """Sweep SPEC over values of some keys; each point is an ordinary run, scored by the eval.

    Every point is priced first (memory, GPU-hours, cost) and the sweep is refused when a
    point does not fit the target. The points then run one after another (train and eval);
    they share the prepared data, so one tokenization serves every point whose data settings
    match. On a cluster, launch one job per point: `axowrap launch slurm SPEC --set ...`.

    \b
      axowrap sweep specs/sql.yaml --grid training.learning_rate=1e-4,3e-4 --grid lora.r=8,16
      axowrap sweep specs/sql.yaml --random 6 --range training.learning_rate=log:1e-5..1e-3
      axowrap sweep status                  # the leaderboard of the newest sweep
      axowrap sweep promote best            # the winner's values into the spec
    """


@command.command("run")
@click.argument("spec", type=click.Path(path_type=Path), shell_complete=complete.specs)
@click.option("--grid", multiple=True, metavar="KEY=V1,V2", help="Values of one key; every combination runs.")
@click.option(
    "--range", "ranges", multiple=True, metavar="KEY=LO..HI", help="Sample a key (log:LO..HI on a log scale)."
)
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None, help="Sample this many points.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --random.")
@set_option
@click.option("--metric", default=None, help="Rank by this eval metric (default: the spec's eval.metric).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N held-out rows.")
@click.option("--max-gen-toks", type=click.IntRange(min=1), default=None, help="Longest generated answer in tokens.")
@click.option("--dry-run", is_flag=True, help="Price the points; run nothing.")
@click.option("--force", is_flag=True, help="Redo every point's steps even if up to date.")
@runs_dir_option
@json_lines_option
def run(
    spec: Path,
    grid: tuple[str, ...],
    ranges: tuple[str, ...],
    random_n: int | None,
    seed: int,
    overrides: tuple[Any, ...],
    metric: str | None,
    limit: int | None,
    max_gen_toks: int | None,
    dry_run: bool,
    force: bool,
    runs_dir: Path,
    json_events: bool,
) -> None:
    """Price every point of the sweep of SPEC, then run each (train + eval) and rank them.

    \b
      axowrap sweep specs/sql.yaml --grid training.learning_rate=1e-4,3e-4 --grid lora.r=8,16
      axowrap sweep specs/sql.yaml --grid lora.r=8,16 --dry-run     # the plan only
    """
    from axowrap.cli.output import run_events
    from axowrap.errors import AxowrapError
    from axowrap.sweep.runner import make_sweep, price, run_points

    sets = tuple(dict.fromkeys(o.text for o in overrides))
    sweep = make_sweep(spec, runs_dir, grid=grid, ranges=ranges, random_n=random_n, seed=seed, sets=sets)
    events = run_events(json_events)
    price(sweep, events)
    if dry_run:
        events.emit(
            None, "finished", text=f"dry run: nothing ran (sweep folder {sweep.folder})", sweep=str(sweep.folder)
        )
        return
    options = {"limit": limit, "max_gen_toks": max_gen_toks}
    failed = run_points(sweep, runs_dir, events, options={k: v for k, v in options.items() if v}, force=force)
    _board(sweep, metric, events)
    if failed:
        raise AxowrapError(
            f"{len(failed)} of {len(sweep.points)} point(s) failed: {', '.join(p.id for p in failed)}",
            hint=f"see `axowrap sweep status {sweep.folder}`; rerun the same command to resume",
        )


def _board(sweep: Any, metric: str | None, events: Any) -> None:
    from axowrap.sweep.leaderboard import loss_plot, metric_name, rows

    name = metric_name(sweep, metric)
    board = rows(sweep, name)
    plot = loss_plot(board, sweep.folder / "loss.png")
    if events.json_lines:
        events.emit(
            None,
            "leaderboard",
            metric=name,
            rows=[r.to_json() for r in board],
            loss_plot=str(plot) if plot else None,
            sweep=str(sweep.folder),
        )
    elif not events.quiet:
        _print_board(sweep, name, board, plot)


def _print_board(sweep: Any, name: str | None, board: list[Any], plot: Path | None) -> None:
    from axowrap.cli.style import console, table

    def num(x: float | None, fmt: str = ".4g") -> str:
        return "-" if x is None else format(x, fmt)

    con = console()
    grid = table(
        con,
        "rank",
        "point",
        "values",
        name or "metric",
        "base",
        "final loss",
        "train s",
        "eval s",
        "cost",
        "status",
        title=f"sweep {sweep.id}",
    )
    for i, r in enumerate(board, 1):
        cost = "-" if r.cost is None else f"${r.cost:.2f}"
        rank = str(i) if r.metric is not None else "-"
        grid.add_row(
            rank, r.point.id, r.values, num(r.metric), num(r.base), num(r.final_loss), num(r.train_s, ".0f"),
            num(r.eval_s, ".0f"), cost, r.point.status,
        )  # fmt: skip
    con.print(grid)
    if plot:
        con.print(f"loss curves: {plot}")


@command.command("status")
@click.argument("sweep_dir", metavar="[SWEEP]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--metric", default=None, help="Rank by this eval metric (default: the spec's eval.metric).")
@runs_dir_option
@json_option
def status(sweep_dir: Path | None, metric: str | None, runs_dir: Path, as_json: bool) -> None:
    """The leaderboard of SWEEP (a folder under runs/sweeps/; default: the newest sweep).

    \b
      axowrap sweep status
      axowrap sweep status runs/sweeps/sql-1a2b3c4d --json | jq '.rows[0]'
    """
    from axowrap.sweep.leaderboard import loss_plot, metric_name, rows
    from axowrap.sweep.record import find_sweep

    sweep = find_sweep(runs_dir, sweep_dir)
    name = metric_name(sweep, metric)
    board = rows(sweep, name)
    plot = loss_plot(board, sweep.folder / "loss.png")
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(
            True,
            sweep=str(sweep.folder),
            spec=sweep.spec,
            metric=name,
            rows=[r.to_json() for r in board],
            loss_plot=str(plot) if plot else None,
        )
        return
    _print_board(sweep, name, board, plot)


@command.command("promote")
@click.argument("point")
@click.option("--sweep", "sweep_dir", type=click.Path(file_okay=False, path_type=Path), help="The sweep folder.")
@click.option("--metric", default=None, help="With `best`: rank by this metric (default: the spec's eval.metric).")
@runs_dir_option
@json_option
def promote(point: str, sweep_dir: Path | None, metric: str | None, runs_dir: Path, as_json: bool) -> None:
    """Write POINT's values into the sweep's spec, with a comment naming the sweep.

    POINT is a point id (p3), `best` (the top of the leaderboard) or a point's run directory.

    \b
      axowrap sweep promote best
      axowrap sweep promote p3 --sweep runs/sweeps/sql-1a2b3c4d
      axowrap render specs/sql.yaml --explain lora_r    # says which sweep set it
    """
    from axowrap.sweep.promote import pick
    from axowrap.sweep.promote import promote as write
    from axowrap.sweep.record import find_sweep

    sweep = find_sweep(runs_dir, sweep_dir)
    chosen = pick(sweep, point, metric)
    spec, keys, note = write(sweep, chosen, metric)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, spec=str(spec), point=chosen.id, keys=keys, note=note)
        return
    click.echo(f"wrote {', '.join(keys)} into {spec} ({note})")
