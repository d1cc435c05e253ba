"""The one Jinja environment every generated file goes through: sandboxed, StrictUndefined,
with the `yaml` filters that keep a value inside the YAML it is put in (axowrap.yamlemit) and
`md` that keeps one inside markdown.
Configs, specs, job files, cards, Modelfiles and the team scaffold are all rendered here."""

from __future__ import annotations

from functools import cache
from typing import Any

from axowrap.resources import templates_dir
from axowrap.yamlemit import to_yaml, to_yaml_block

MARKDOWN_SPECIAL = "\\`*_{}[]<>()#+!|~"


def markdown_escape(value: Any) -> str:
    """Text that stays text inside markdown (a table cell, a list item): specials backslashed,
    line breaks made spaces."""
    text = " ".join(str(value).split())
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in text)


@cache
def _environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["yaml"] = to_yaml
    env.filters["yaml_block"] = to_yaml_block
    env.filters["md"] = markdown_escape
    return env


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)
