"""`axowrap diff`: what differs between two effective Axolotl configs (and run manifests)."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option


@click.command("diff")
@click.argument("left", type=click.Path(path_type=Path), shell_complete=complete.specs)
@click.argument("right", type=click.Path(path_type=Path), shell_complete=complete.specs)
@json_option
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are differences (like `git diff --exit-code`).")
def command(left: Path, right: Path, as_json: bool, exit_code: bool) -> None:
    """Semantic diff of LEFT and RIGHT: specs, Axolotl YAMLs or run directories (mixed freely).

    Specs are rendered first (presets, extends, target adjustments), so the diff shows what
    Axolotl would really get; run directories also compare their manifests (versions,
    base model, dataset hashes). Keys are sorted, values side by side.

    \b
      axowrap diff specs/support-bot.yaml specs/support-bot-v2.yaml
      axowrap diff specs/sql.yaml rendered/sql.axolotl.yaml
      axowrap diff runs/sql-3f2a9c1d runs/sql-8e01b7aa
    """
    from axowrap.cli.envelope import print_json
    from axowrap.team.diff import ABSENT, format_diff, semantic_diff

    diff = semantic_diff(left, right)
    if as_json:

        def row(k: str, a: object, b: object) -> dict[str, object]:
            return {
                "key": k,
                "left": None if a is ABSENT else a,
                "right": None if b is ABSENT else b,
                "only": "right" if a is ABSENT else "left" if b is ABSENT else None,
            }

        print_json(
            diff.same or not exit_code,
            left=diff.left.label,
            right=diff.right.label,
            same=diff.same,
            config=[row(*r) for r in diff.config],
            manifest=[row(*r) for r in diff.manifest],
        )
    else:
        click.echo(format_diff(diff), nl=False)
    if exit_code and not diff.same:
        from axowrap.errors import AxowrapError

        raise AxowrapError(f"{left} and {right} differ")
