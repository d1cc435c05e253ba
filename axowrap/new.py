"""`axowrap new`: a short, commented spec from a task preset."""

from __future__ import annotations

from pathlib import Path

from axowrap.errors import UsageError
from axowrap.presets import get_preset, preset_names
from axowrap.problems import did_you_mean
from axowrap.targets import target_names
from axowrap.yamlio import atomic_write, parse_yaml

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
METHODS = ("lora", "qlora", "dora", "full")
FORMATS = ("alpaca", "messages", "sharegpt", "preference", "text")


def new_spec_text(
    task: str,
    *,
    model: str = DEFAULT_MODEL,
    method: str = "lora",
    data: str | None = None,
    fmt: str | None = None,
    target: str | None = None,
) -> str:
    """The spec text for `task` (checked: it parses, and names a known preset)."""
    if task not in preset_names():
        guess = did_you_mean(task, preset_names())
        raise UsageError(
            f"unknown task {task!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            hint=f"known tasks: {', '.join(preset_names())} (see `axowrap tasks`)",
        )
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}", hint=f"one of: {', '.join(METHODS)}")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    if target is not None and target not in target_names():
        raise UsageError(f"unknown target {target!r}", hint=f"one of: {', '.join(target_names())}")
    preset = get_preset(task)
    base = preset.base_defaults
    merged = {k: {**base.get(k, {}), **preset.defaults.get(k, {})} for k in ("training", "eval", "export", "compute")}
    preset_format = preset.dataset.get("format")
    from axowrap.render import render_template

    text = render_template(
        "spec.yaml.j2",
        preset=preset,
        model=model,
        method=method,
        data=data or f"data/{preset.example_data}",
        format=fmt or preset_format,
        fields=preset.dataset.get("fields") if (fmt or preset_format) == preset_format else None,
        training=merged["training"],
        eval=merged["eval"],
        export=merged["export"],
        target=target or merged["compute"]["target"],
    )
    parse_yaml(text, "<new spec>")  # a template bug must never write a broken file
    return text


def write_new_spec(output: Path, text: str, *, force: bool) -> None:
    if output.exists() and not force:
        raise UsageError(f"{output} already exists", hint="pass --force to overwrite it")
    atomic_write(output, text)
