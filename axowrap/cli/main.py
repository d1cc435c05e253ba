"""The `axowrap` entry point (`main`): runs the click group of cli/app.py and is the one
error handler, turning exceptions into exit codes (user error 1, usage 2, unexpected 3,
Ctrl-C 130).

Only the standard library is imported before `main` runs, so a Ctrl-C while the rest is
imported is an "interrupted" like any other, never a traceback. Whatever reaches the
terminal is printable: control characters in a message are escaped (an ESC sequence or a
`::error::` line from a file's key name cannot reach a terminal or a CI log), and a lone
surrogate is written as an escape instead of failing. Unexpected errors go to a log file that
is rotated at LOG_MAX_BYTES and never holds secret-looking command-line values.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

LOG_MAX_BYTES = 1 << 20  # the log is rotated to axowrap.log.1 past this size (two files at most)


def _log_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "axowrap" / "axowrap.log"


def _safe_streams() -> None:
    """Let stdout/stderr write any string: a lone surrogate becomes an escape, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, io.UnsupportedOperation):
                pass


def _fail(message: str, hint: str | None = None) -> None:
    import click

    from axowrap.problems import printable

    click.secho(f"error: {printable(message, newlines=True)}", fg="red", err=True)
    if hint:
        click.echo(f"  hint: {printable(hint, newlines=True)}", err=True)


def write_log(text: str, log: Path, max_bytes: int = LOG_MAX_BYTES) -> None:
    """Append `text` to the log, first moving a log over `max_bytes` to `<log>.1` (replacing it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if log.stat().st_size > max_bytes:
            os.replace(log, log.with_name(log.name + ".1"))
    except FileNotFoundError:
        pass
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(text)


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit code instead of raising."""
    _safe_streams()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # during the imports, or inside a handler below
        sys.stderr.write("interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    import click

    from axowrap.cli.app import cli
    from axowrap.cli.output import print_problems
    from axowrap.errors import AxowrapError, ValidationFailed

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
    except ModuleNotFoundError as exc:  # an optional package a command needs (not one of ours: that is a bug)
        if not exc.name or exc.name.split(".")[0] == "axowrap":
            return _unexpected(exc, argv, debug)
        from axowrap.extras import missing_message

        _fail(*missing_message(exc.name))
        return 1
    except Exception as exc:  # the last resort: one line for the user, the rest in a log
        return _unexpected(exc, argv, debug)


def _unexpected(exc: BaseException, argv: list[str] | None, debug: bool) -> int:
    import traceback

    from axowrap import __version__
    from axowrap.redact import redact_argv, redact_value

    if debug:
        traceback.print_exception(exc)
    log = _log_path()
    command = " ".join(redact_argv(["axowrap", *(argv if argv is not None else sys.argv[1:])]))
    try:
        trace = "".join(traceback.format_exception(exc))
        write_log(f"axowrap {__version__}: {command}\n{redact_value(trace)}\n", log)
        where = f"; details in {log}"
    except OSError:
        where = ""
    _fail(f"unexpected {type(exc).__name__}: {exc}{where}", "rerun with --debug, and report it")
    return 3
