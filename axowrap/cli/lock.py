"""`axowrap lock`: pin versions, model revisions and dataset hashes into axowrap.lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axowrap.cli import complete
from axowrap.cli.options import json_option, set_option


@click.command("lock")
@click.argument("specs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path), shell_complete=complete.specs)
@click.option("--check", is_flag=True, help="Write nothing; list what drifted from axowrap.lock (exit 1 on any).")
@set_option
@json_option
def command(specs: tuple[Path, ...], check: bool, overrides: tuple[Any, ...], as_json: bool) -> None:
    """Write ./axowrap.lock for SPECS (default: every spec under the current directory).

    It records axowrap, axolotl, transformers, peft, trl, accelerate and torch versions, each
    base model's revision (Hub commit, else the local HF cache, else a local folder's content
    hash) and each local dataset's sha256. `axowrap run --locked SPEC` refuses on any drift.

    \b
      axowrap lock                           # at the repo root; commit axowrap.lock
      axowrap lock specs/support-bot.yaml    # re-pin one spec, keep the others
      axowrap lock --check                   # what drifted since
      axowrap lock --check --json | jq -r '.drift[]'
    """
    from axowrap.cli.envelope import print_json
    from axowrap.errors import AxowrapError
    from axowrap.team.discovery import find_specs
    from axowrap.team.lock import check_lock, write_lock

    chosen = list(specs) or find_specs(Path("."))
    if not check:
        path, lock = write_lock(chosen, overrides=overrides)
        if as_json:
            print_json(True, lock=str(path), packages=lock["packages"], specs=lock["specs"])
            return
        for name, pins in lock["specs"].items():
            model = pins["base_model"]
            click.echo(
                f"{name}: {model.get('id') or model.get('path')} @ "
                f"{(model.get('revision') or model.get('sha256'))[:12]} ({model['source']}), "
                f"{len(pins['datasets'])} dataset file(s)"
            )
        click.echo(f"wrote {path}")
        return
    drift = list(dict.fromkeys(line for spec in chosen for line in check_lock(spec, overrides)))
    if as_json:
        print_json(not drift, drift=drift)
    else:
        for line in drift:
            click.echo(line)
    if drift:
        raise AxowrapError(
            f"{len(drift)} drift(s) from axowrap.lock", hint="if intended, run `axowrap lock` and commit axowrap.lock"
        )
    if not as_json:
        click.echo("no drift")
