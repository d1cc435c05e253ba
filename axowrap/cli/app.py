"""The `axowrap` click group: every command wired in (cli/main.py runs it and handles errors)."""

from __future__ import annotations

import click

from axowrap import __version__
from axowrap.cli import (
    data,
    diff,
    import_gguf,
    init,
    internal,
    launch,
    lock,
    new,
    plan,
    render,
    run,
    schema,
    serve,
    status,
    steps,
    tasks,
    validate,
)
from axowrap.cli import eval as eval_cmd
from axowrap.cli import push as push_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="axowrap")
@click.option("--debug", is_flag=True, help="Show full tracebacks for unexpected errors.")
@click.option(
    "--allow-outside",
    is_flag=True,
    envvar="AXOWRAP_ALLOW_OUTSIDE",
    help="Let specs read files outside their repo (`extends:`, `data check`). Off: a spec from "
    "a pull request cannot make CI read /proc/self/environ or ~/.ssh.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, allow_outside: bool) -> None:
    """Short task specs -> validated Axolotl configs, and the fine-tuning pipeline around them.

    \b
      axowrap tasks                               # the task presets
      axowrap new --task sql -o specs/sql.yaml    # a short, commented spec
      axowrap validate specs/sql.yaml             # every mistake, before any GPU time
      axowrap render specs/sql.yaml -o sql.axolotl.yaml
    """
    from axowrap.spec.read import ALLOW_OUTSIDE

    ctx.obj = {"debug": debug}
    ALLOW_OUTSIDE.set(allow_outside)


for module in (
    tasks,
    new,
    render,
    validate,
    run,
    status,
    data,
    plan,
    eval_cmd,
    import_gguf,
    diff,
    init,
    lock,
    schema,
    push_cmd,
    launch,
    serve,
):
    cli.add_command(module.command)
for command in (*steps.commands, *internal.commands):  # train|merge|gguf RUN; hidden _prepare/_envcheck
    cli.add_command(command)
