"""The `axowrap` click group (cli/main.py runs it and handles errors). Each command's module is
loaded only when that command runs (or --help lists them), so `axowrap validate` imports nothing
the other commands need."""

from __future__ import annotations

import importlib

import click

from axowrap import __version__

# Each command's module, loaded only when that command runs (or --help lists them), so
# `axowrap validate` imports nothing the other commands need. Adding a command: its module in
# axowrap/cli/, and one line here.
COMMANDS = {
    "tasks": "axowrap.cli.tasks:command",
    "new": "axowrap.cli.new:command",
    "render": "axowrap.cli.render:command",
    "validate": "axowrap.cli.validate:command",
    "run": "axowrap.cli.run:command",
    "status": "axowrap.cli.status:command",
    "data": "axowrap.cli.data:command",
    "plan": "axowrap.cli.plan:command",
    "eval": "axowrap.cli.eval:command",
    "import-gguf": "axowrap.cli.import_gguf:command",
    "diff": "axowrap.cli.diff:command",
    "init": "axowrap.cli.init:command",
    "lock": "axowrap.cli.lock:command",
    "schema": "axowrap.cli.schema:command",
    "push": "axowrap.cli.push:command",
    "launch": "axowrap.cli.launch:command",
    "serve": "axowrap.cli.serve:command",
    "chat": "axowrap.cli.chat:command",
    "audit": "axowrap.cli.audit:command",
    "_prepare": "axowrap.cli.internal:prepare",
    "_envcheck": "axowrap.cli.internal:envcheck",
}


class LazyGroup(click.Group):
    """Commands from COMMANDS, plus `axowrap STEP RUN` for every registered pipeline step
    without a command of its own (axowrap/cli/steps.py)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from axowrap.cli.steps import step_commands

        return sorted({*COMMANDS, *step_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            from axowrap.cli.steps import step_commands

            return step_commands().get(cmd_name)
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
