"""`axowrap new`: a short, commented spec from a task preset."""

from __future__ import annotations

from pathlib import Path

from axowrap.errors import UsageError
from axowrap.problems import did_you_mean
from axowrap.resources import example_data_dir
from axowrap.spec.model import spec_schema
from axowrap.spec.presets import get_preset, preset_names
from axowrap.targets import target_names
from axowrap.yamlio import atomic_write, parse_yaml

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def methods() -> list[str]:
    return [str(m) for m in spec_schema()["properties"]["method"]["enum"]]


def formats() -> list[str]:
    return [str(f) for f in spec_schema()["properties"]["datasets"]["items"]["properties"]["format"]["enum"]]


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
    if method not in methods():
        raise UsageError(f"unknown method {method!r}", hint=f"one of: {', '.join(methods())}")
    if fmt is not None and fmt not in formats():
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(formats())}")
    if target is not None and target not in target_names():
        raise UsageError(f"unknown target {target!r}", hint=f"one of: {', '.join(target_names())}")
    preset = get_preset(task)
    base = preset.base_defaults
    merged = {k: {**base.get(k, {}), **preset.defaults.get(k, {})} for k in ("training", "eval", "export", "compute")}
    preset_format = preset.dataset.get("format")
    from axowrap.templating import render_template

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


def write_example_data(spec_path: Path, task: str) -> Path | None:
    """Copy the preset's example rows to where a new spec's default `datasets[0].path` points,
    unless a file is there already; returns the file written (None: nothing written)."""
    preset = get_preset(task)
    if not preset.example_data:
        return None
    dest = spec_path.parent / "data" / preset.example_data
    if dest.exists():
        return None
    atomic_write(dest, (example_data_dir() / preset.example_data).read_text(encoding="utf-8"))
    return dest
