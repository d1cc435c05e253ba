"""The one Jinja environment every generated file goes through: sandboxed, StrictUndefined,
with a filter for every kind of place a value can land, so that it stays inside it:

    yaml, yaml_block, yaml_literal   YAML values and blocks (axowrap.yamlemit)
    shell, md_shell                  one shell word (shlex.quote); in Markdown, kept on one line
    comment                          the rest of a `#` comment line: one line, controls escaped
    pystr                            a Python string literal (in a card's code example)
    md_text, md_cell, md_code,       Markdown inline text, a table cell, a code span (in a
    md_code_cell, md_link, md_fence  table), a link destination, a code-block fence (axowrap.mdemit)

Configs, specs, job files, cards, Modelfiles and the team scaffold are all rendered here."""

from __future__ import annotations

from functools import cache
from typing import Any

from axowrap import mdemit
from axowrap.problems import printable
from axowrap.resources import templates_dir
from axowrap.yamlemit import to_yaml, to_yaml_block, to_yaml_literal


def comment(value: Any) -> str:
    """`value` as text that stays on its `#` comment line (line breaks and controls escaped)."""
    return printable(value if isinstance(value, str) else str(value))


def shell(value: Any) -> str:
    """`value` as exactly one shell word (in a script: a line break inside quotes is just text)."""
    import shlex

    return shlex.quote(value if isinstance(value, str) else str(value))


def md_shell(value: Any) -> str:
    """One shell word shown in Markdown: on one line (controls escaped), so a code block holds it."""
    return shell(comment(value))


def pystr(value: Any) -> str:
    """`value` as a Python string literal (JSON's escapes are Python's; never a line break)."""
    import json

    return json.dumps(value if isinstance(value, str) else str(value))


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
    env.filters["yaml_literal"] = to_yaml_literal
    env.filters["shell"] = shell
    env.filters["md_shell"] = md_shell
    env.filters["comment"] = comment
    env.filters["pystr"] = pystr
    env.filters["md_text"] = mdemit.text
    env.filters["md_cell"] = mdemit.cell
    env.filters["md_code"] = mdemit.code
    env.filters["md_code_cell"] = lambda value: mdemit.code(value, in_table=True)
    env.filters["md_link"] = mdemit.link_target
    env.filters["md_fence"] = mdemit.fence
    return env


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)
