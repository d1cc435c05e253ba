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
from axowrap.cli.output import print_problems
from axowrap.errors import AxowrapError, ValidationFailed

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
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Short task specs -> validated Axolotl configs, and the fine-tuning pipeline around them.

    \b
      axowrap tasks                               # the task presets
      axowrap new --task sql -o specs/sql.yaml    # a short, commented spec
      axowrap validate specs/sql.yaml             # every mistake, before any GPU time
      axowrap render specs/sql.yaml -o sql.axolotl.yaml
    """
    ctx.obj = {"debug": debug}


def _log_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "axowrap" / "axowrap.log"


def _fail(message: str, hint: str | None = None) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code instead of raising."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="axowrap", standalone_mode=False)
        return 0
    except ValidationFailed as exc:
        print_problems(exc.problems)
        _fail(exc.message, exc.hint)
        return exc.exit_code
    except AxowrapError as exc:
        _fail(exc.message, exc.hint)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # click's own usage errors, in axowrap's one format
        where = exc.ctx.command_path if exc.ctx is not None else "axowrap"
        _fail(exc.format_message(), f"see `{where} --help`")
        return 2
    except click.ClickException as exc:
        _fail(exc.format_message())
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
        _fail(f"unexpected {type(exc).__name__}: {exc}{where}", "rerun with --debug, and report it")
        return 3
