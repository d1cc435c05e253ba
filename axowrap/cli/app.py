"""The `axowrap` click group (cli/main.py runs it and handles errors). Each command's module is
loaded only when that command runs (or --help lists them), so `axowrap validate` imports nothing
the other commands need."""

from __future__ import annotations

import importlib

import click

from axowrap import __version__
from axowrap.cli.style import global_options

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
    "sweep": "axowrap.cli.sweep:command",
    "doctor": "axowrap.cli.doctor:command",
    "completion": "axowrap.cli.completion:command",
    "chat": "axowrap.cli.chat:command",
    "audit": "axowrap.cli.audit:command",
    "_prepare": "axowrap.cli.internal:prepare",
    "_envcheck": "axowrap.cli.internal:envcheck",
}


class LazyGroup(click.Group):
    """Commands from COMMANDS, plus `axowrap STEP RUN` for every registered pipeline step
    without a command of its own (axowrap/cli/steps.py). Every command also takes the global
    options (--color/--no-color, --quiet, --verbose) and lists its environment variables."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from axowrap.cli.steps import step_commands

        return sorted({*COMMANDS, *step_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            from axowrap.cli.steps import step_commands

            found = step_commands().get(cmd_name)
            return _with_globals(found) if found is not None else None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return _with_globals(command)


def _with_globals(command: click.Command, prefix: str | None = None) -> click.Command:
    """The command (and its subcommands) with the global options, each option readable from
    AXOWRAP_<COMMAND>_<OPTION> (unless it names a shared variable, like AXOWRAP_RUNS_DIR),
    and `env var:` shown for each in --help."""
    if not getattr(command, "_axowrap_globals", False):
        command._axowrap_globals = True  # type: ignore[attr-defined]
        prefix = prefix or f"AXOWRAP_{_env_name(command.name or '')}"
        names = {o for p in command.params for o in getattr(p, "opts", [])}
        command.params.extend(o for o in global_options() if not set(o.opts) & names)
        _name_envvars(command, prefix)
        for name, sub in getattr(command, "commands", {}).items():
            _with_globals(sub, f"{prefix}_{_env_name(name)}")
    return command


def _env_name(text: str) -> str:
    return text.strip("-_").upper().replace("-", "_")


def _name_envvars(command: click.Command, prefix: str) -> None:
    for param in command.params:
        if isinstance(param, click.Option) and {"--help", "--version"} & set(param.opts):
            param.allow_from_autoenv = False  # an AXOWRAP_VERSION in the environment must not print the version
        elif isinstance(param, click.Option):
            if param.envvar is None:
                longest = max(param.opts, key=len)
                param.envvar = f"{prefix}_{_env_name(longest)}"
            param.show_envvar = not param.hidden


ENVIRONMENT = """\b
Environment:
  AXOWRAP_RUNS_DIR      where run directories go (run, sweep, launch; default runs/)
  AXOWRAP_TARGET        the target GPU[:N] of validate, render, plan and new
  AXOWRAP_<COMMAND>_<OPTION>  any option, e.g. AXOWRAP_RUN_LOCKED=1 (a command's --help names them)
  NO_COLOR              no colour (https://no-color.org); --color forces it
  AXOWRAP_ALLOW_OUTSIDE let specs read files outside their repo (--allow-outside)
  HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE   the Hub (see `axowrap doctor`)
"""


@click.group(
    cls=LazyGroup,
    epilog=ENVIRONMENT,
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "auto_envvar_prefix": "AXOWRAP",
    },
)
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
      axowrap doctor                              # what is installed, what each step needs
    """
    from axowrap.files import ALLOW_OUTSIDE

    ctx.ensure_object(dict)["debug"] = debug
    ALLOW_OUTSIDE.set(allow_outside)


for _option in global_options():
    cli.params.append(_option)
_name_envvars(cli, "AXOWRAP")
