"""`axowrap serve`: try a run's GGUF through llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import click

from axowrap.cli import complete


@click.command("serve")
@click.argument("run", type=click.Path(path_type=Path), shell_complete=complete.runs)
@click.option(
    "--gguf-type",
    "--gguf",
    "gguf_type",
    default=None,
    shell_complete=complete.gguf_types,
    help="GGUF type to serve, e.g. q4_k_m (default: the Modelfile's choice).",
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
def command(run: Path, gguf_type: str | None, port: int) -> None:
    """Serve a run's GGUF with llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

    \b
      axowrap serve runs/sql-1a2b3c4d --gguf-type q4_k_m --port 8080
      curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\
        -d '{"messages": [{"role": "user", "content": "Hello"}]}'
    """
    from axowrap.serve.server import serve

    code = serve(run, gguf_type, port, echo=lambda line: click.echo(line, err=True))
    if code:
        raise click.exceptions.Exit(code)
