"""The `axowrap` command: parse, dispatch, and the one error handler (entry point `main`).

Each subcommand lives in its own small module; this file only wires them and turns
exceptions into exit codes (user error 1, usage 2, unexpected 3, Ctrl-C 130).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

import click

from axowrap import __version__
from axowrap.cli import envelope
from axowrap.cli.output import print_problems
from axowrap.cli.style import color_from_argv, global_options
from axowrap.errors import AxowrapError, ValidationFailed
from axowrap.problems import Problem

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
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Short task specs -> validated Axolotl configs, and the fine-tuning pipeline around them.

    \b
      axowrap tasks                               # the task presets
      axowrap new --task sql -o specs/sql.yaml    # a short, commented spec
      axowrap validate specs/sql.yaml             # every mistake, before any GPU time
      axowrap render specs/sql.yaml -o sql.axolotl.yaml
      axowrap doctor                              # what is installed, what each step needs
    """
    ctx.ensure_object(dict)["debug"] = debug


for _option in global_options():
    cli.params.append(_option)
_name_envvars(cli, "AXOWRAP")


def _log_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "axowrap" / "axowrap.log"


def _fail(message: str, hint: str | None = None, color: bool | None = None) -> None:
    click.echo(click.style("error:", fg="red") + f" {message}", err=True, color=color)
    if hint:
        click.echo(f"  hint: {hint}", err=True, color=color)


def _json_failure(message: str, hint: str | None, problems: list[Problem] | None = None) -> None:
    text = envelope.failure_text(message, hint, [p.to_json() for p in problems or []])
    if text is not None:
        click.echo(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code instead of raising."""
    args = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args
    color = color_from_argv(args)
    envelope.reset()
    try:
        cli.main(args=argv, prog_name="axowrap", standalone_mode=False)
        return 0
    except ValidationFailed as exc:
        _json_failure(exc.message, exc.hint, exc.problems)
        print_problems(exc.problems, color=color)
        _fail(exc.message, exc.hint, color)
        return exc.exit_code
    except AxowrapError as exc:
        _json_failure(exc.message, exc.hint)
        _fail(exc.message, exc.hint, color)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # click's own usage errors, in axowrap's one format
        where = exc.ctx.command_path if exc.ctx is not None else "axowrap"
        _json_failure(exc.format_message(), f"see `{where} --help`")
        _fail(exc.format_message(), f"see `{where} --help`", color)
        return 2
    except click.ClickException as exc:
        _json_failure(exc.format_message(), None)
        _fail(exc.format_message(), None, color)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the last resort: one line for the user, the rest in a log
        if debug:
            traceback.print_exc()
        log = _log_path()
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as fh:
                fh.write(f"axowrap {__version__}: {' '.join(sys.argv)}\n{traceback.format_exc()}\n")
            where = f"; details in {log}"
        except OSError:
            where = ""
        _json_failure(f"unexpected {type(exc).__name__}: {exc}", "rerun with --debug, and report it")
        _fail(f"unexpected {type(exc).__name__}: {exc}{where}", "rerun with --debug, and report it", color)
        return 3
