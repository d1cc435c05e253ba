"""`axowrap chat RUN`: talk to the model a run trained, in the prompt format training used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("chat")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--model",
    "model",
    metavar="adapter|merged|gguf[:TYPE]",
    default=None,
    help="The artifact to talk to (default: the best one the run has: an unquantized GGUF, "
    "then the merged model, then the adapter).",
)
@click.option("--compare", type=click.Choice(["base"]), default=None, help="The base model answers beside it.")
@click.option("--prompt", "prompt", default=None, help="Answer this one message and exit (`-`: read it from stdin).")
@click.option("--input", "input_text", default="", help="Alpaca runs: the prompt's input field (sql: the schema).")
@click.option("--system", default="", help="Chat runs: a system message before the conversation.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True, help="Longest answer.")
@click.option(
    "--temperature", type=click.FloatRange(min=0.0), default=0.0, show_default=True, help="0 is greedy decoding."
)
@click.option("--json", "as_json", is_flag=True, help="With --prompt: one JSON document instead of streamed text.")
def command(
    run_dir: Path,
    model: str | None,
    compare: str | None,
    prompt: str | None,
    input_text: str,
    system: str,
    max_tokens: int,
    temperature: float,
    as_json: bool,
) -> None:
    """Talk to RUN's fine-tuned model, with the chat template (or the alpaca prompt) and system
    prompt that training used. Interactive on a terminal; `--prompt TEXT` (or a message on
    stdin) answers once, for scripts. Greedy unless `--temperature` is given.

    \b
      axowrap chat runs/sql-3f2a9c1d
      axowrap chat runs/sql-3f2a9c1d --model merged --compare base
      axowrap chat runs/sql-3f2a9c1d --prompt "How many users?" --input "CREATE TABLE users (id int);" --json
      echo "How many users?" | axowrap chat runs/sql-3f2a9c1d --model gguf:q8_0
    """
    from axowrap.chat.session import Settings, start

    settings = Settings(max_tokens, temperature, input_text, system, compare == "base")
    if prompt == "-" or (prompt is None and not sys.stdin.isatty()):
        prompt = sys.stdin.read().strip()
        if not prompt:
            raise click.UsageError("no message on stdin (give --prompt TEXT, or run on a terminal to chat)")
    if as_json and prompt is None:
        raise click.UsageError("--json goes with --prompt (or a message on stdin)")
    loading = None if as_json else (lambda what: click.echo(f"loading {what} ...", err=True))
    session = start(run_dir, model, settings, on_loading=loading)
    if prompt is not None:
        _one_shot(session, prompt, as_json)
    else:
        _interactive(session)


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def _label(name: str) -> None:
    """Names each answer when the base model answers too."""
    click.echo(f"\n[{name}]" if name == "base" else f"[{name}]")


def _one_shot(session: object, prompt: str, as_json: bool) -> None:
    from axowrap.chat.session import Session

    assert isinstance(session, Session)
    if as_json:
        answers = session.turn(prompt, None)
        doc = {"ok": True, "run": str(session.run.root), "format": session.fmt.kind, **answers[0].to_json()}
        if len(answers) > 1:
            doc["compare"] = {"base": answers[1].to_json()}
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    session.turn(prompt, _write, label=_label)
    click.echo()


def _read_line(prompt: str) -> str:
    """input(), except that Ctrl-C at the prompt always leaves. The kernel may deliver the
    terminal's SIGINT to any thread (torch's, llama.cpp's, tqdm's): Python's handler only runs
    when the main thread runs Python again, and input() blocked in read() never returns. So on
    a terminal, wait for the line in short selects (each one lets a pending Ctrl-C raise)."""
    import select

    if not sys.stdin.isatty():
        return input(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        pass
    line = sys.stdin.readline()  # a terminal in canonical mode: readable means a whole line (or EOF)
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _interactive(session: object) -> None:
    from axowrap.chat.session import HELP, Session, describe

    assert isinstance(session, Session)
    click.echo(describe(session))
    while True:
        try:
            line = _read_line("you> ")
        except EOFError:  # Ctrl-D
            click.echo()
            return
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, arg = text.partition(" ")
            if command == "/quit":
                return
            if command == "/compare":
                session.settings.compare = not session.settings.compare
                if session.settings.compare:
                    click.echo("loading the base model ...", err=True)
                    session.base_backend()
                click.echo(f"compare with the base model: {'on' if session.settings.compare else 'off'}")
            elif command == "/input":
                session.settings.input_text = arg
                click.echo("input field set" if arg else "input field cleared")
            elif command == "/system":
                session.settings.system = arg
                session.history.clear()
                click.echo("system message set; conversation restarted")
            elif command == "/reset":
                session.history.clear()
                click.echo("conversation restarted")
            else:
                click.echo(HELP)
            continue
        try:
            session.turn(text, _write, label=_label)
        except KeyboardInterrupt:
            click.echo("\n[answer stopped]")
            continue
        click.echo()
