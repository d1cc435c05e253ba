"""`axowrap completion bash|zsh|fish`: the shell completion script (click's, for this CLI)."""

from __future__ import annotations

import click

INSTALL = {
    "bash": "echo 'eval \"$(axowrap completion bash)\"' >> ~/.bashrc",
    "zsh": "echo 'eval \"$(axowrap completion zsh)\"' >> ~/.zshrc",
    "fish": "axowrap completion fish > ~/.config/fish/completions/axowrap.fish",
}


@click.command("completion")
@click.argument("shell", type=click.Choice(sorted(INSTALL)))
def command(shell: str) -> None:
    """Print the completion script for SHELL. It completes commands, options, every choice
    (tasks, methods, formats, targets, steps, GGUF types) and spec / run-directory paths.

    \b
      echo 'eval "$(axowrap completion bash)"' >> ~/.bashrc
      echo 'eval "$(axowrap completion zsh)"' >> ~/.zshrc
      axowrap completion fish > ~/.config/fish/completions/axowrap.fish
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root()
    cls = get_completion_class(shell)
    assert cls is not None  # the choices are click's own shells
    prog = root.info_name or "axowrap"
    script = cls(root.command, {}, prog, f"_{prog.replace('-', '_').upper()}_COMPLETE").source()
    click.echo(script)
