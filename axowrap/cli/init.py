"""`axowrap init`: scaffold a team repo of specs."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--org", default="my-org", show_default=True, help="Hub organisation of the team (README, hub repo names)."
)
@click.option(
    "--target",
    default="a10g-24gb",
    show_default=True,
    shell_complete=complete.targets,
    help="The team's default target GPU profile.",
)
@click.option("--optimizer", default="adamw_torch", show_default=True, help="The team's default optimizer.")
@click.option("--public", is_flag=True, help="Hub repos public by default (default: private).")
@click.option("--no-rendered", is_flag=True, help="Do not commit rendered Axolotl configs (no rendered/ folder).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (overwrites scaffold files).")
@json_option
def command(
    folder: Path, org: str, target: str, optimizer: str, public: bool, no_rendered: bool, force: bool, as_json: bool
) -> None:
    """Scaffold a team config repo in FOLDER: base spec, specs/, rendered/, README,
    pre-commit hooks, CI workflow and editor schemas.

    \b
      axowrap init ft-configs --org acme --target h100-80gb
      cd ft-configs && git init && pre-commit install
      axowrap new --task chat -o specs/support-bot.yaml   # extends ../team.yaml by itself
      axowrap validate --all && axowrap render --all --check
    """
    from axowrap.team.scaffold import init_repo

    written = init_repo(
        folder, org=org, target=target, optimizer=optimizer, private=not public, rendered=not no_rendered, force=force
    )
    following = f"cd {shlex.quote(str(folder))} && git init && pre-commit install"
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, folder=str(folder), written=[str(p) for p in written], next=following)
        return
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: {following}")
