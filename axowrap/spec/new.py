"""`axowrap new`: a short, commented spec from a task preset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _get(data: dict[str, Any], *path: str) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def new_spec_text(
    task: str,
    *,
    model: str | None = None,
    method: str | None = None,
    data: str | None = None,
    fmt: str | None = None,
    target: str | None = None,
    extends: str | None = None,
    inherited: dict[str, Any] | None = None,
) -> str:
    """The spec text for `task` (checked: it parses, and names a known preset).

    With a team base (`extends`, whose values are `inherited`), only what differs from it is
    written: a key the base sets is left out unless an option asks for another value, so the
    team's settings apply. Without one, the preset's main values are written out to edit."""
    if task not in preset_names():
        guess = did_you_mean(task, preset_names())
        raise UsageError(
            f"unknown task {task!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            hint=f"known tasks: {', '.join(preset_names())} (see `axowrap tasks`)",
        )
    if method is not None and method not in methods():
        raise UsageError(f"unknown method {method!r}", hint=f"one of: {', '.join(methods())}")
    if fmt is not None and fmt not in formats():
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(formats())}")
    if target is not None and target not in target_names():
        raise UsageError(f"unknown target {target!r}", hint=f"one of: {', '.join(target_names())}")
    preset = get_preset(task)
    base = preset.base_defaults
    merged = {k: {**base.get(k, {}), **preset.defaults.get(k, {})} for k in ("training", "eval", "export", "compute")}
    team = inherited or {}

    def keep(value: Any, given: bool, *path: str) -> bool:
        """Write it: asked for and not what the base says, or the base does not set it."""
        found, there = _get(team, *path)
        return not found or (given and there != value)

    chosen_model = model or DEFAULT_MODEL
    chosen_method = method or "lora"
    chosen_target = target or merged["compute"]["target"]
    training = {k: merged["training"][k] for k in ("epochs", "learning_rate", "sequence_len")}
    exported = {"merge": True, "gguf": merged["export"]["gguf"]}
    preset_format = preset.dataset.get("format")
    from axowrap.templating import render_template

    text = render_template(
        "spec.yaml.j2",
        preset=preset,
        extends=extends,
        model=chosen_model if keep(chosen_model, model is not None, "base_model") else None,
        method=chosen_method if keep(chosen_method, method is not None, "method") else None,
        data=data or f"data/{preset.example_data}",
        format=fmt or preset_format,
        fields=preset.dataset.get("fields") if (fmt or preset_format) == preset_format else None,
        training={k: v for k, v in training.items() if keep(v, False, "training", k)},
        eval={"holdout": merged["eval"]["holdout"]} if keep(None, False, "eval", "holdout") else {},
        export={k: v for k, v in exported.items() if keep(v, False, "export", k)},
        target=chosen_target if keep(chosen_target, target is not None, "compute", "target") else None,
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
