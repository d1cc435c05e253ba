"""`axowrap init`: scaffold a team repo of specs."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--org", default="my-org", show_default=True, help="Hub organisation of the team (README, hub repo names)."
)
@click.option("--target", default="a10g-24gb", show_default=True, help="The team's default target GPU profile.")
@click.option("--optimizer", default="adamw_torch", show_default=True, help="The team's default optimizer.")
@click.option("--public", is_flag=True, help="Hub repos public by default (default: private).")
@click.option("--no-rendered", is_flag=True, help="Do not commit rendered Axolotl configs (no rendered/ folder).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (overwrites scaffold files).")
def command(folder: Path, org: str, target: str, optimizer: str, public: bool, no_rendered: bool, force: bool) -> None:
    """Scaffold a team config repo in FOLDER: base spec, specs/, rendered/, README,
    pre-commit hooks, CI workflow and editor schemas.

    \b
      axowrap init ft-configs --org acme --target h100-80gb
      cd ft-configs && git init && pre-commit install
      axowrap new --task chat -o specs/support-bot.yaml   # then add `extends: ../team.yaml`
      axowrap validate --all && axowrap render --all --check
    """
    from axowrap.team.scaffold import init_repo

    written = init_repo(
        folder, org=org, target=target, optimizer=optimizer, private=not public, rendered=not no_rendered, force=force
    )
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {folder} && git init && pre-commit install")
