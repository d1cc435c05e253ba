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
from pathlib import Path
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


OPTIONS = {"keep_trailing_newline": True, "trim_blocks": True, "lstrip_blocks": True, "autoescape": False}


def _bytecode_cache() -> Any:
    """Jinja's compiled templates, kept in the cache folder: compiling the config template is
    most of a first render (~15 ms of a cold `validate`). Jinja checks each file against the
    template's source; the name pattern carries Jinja's version and these options, which the
    compiled code also depends on. None when the cache is off."""
    import hashlib

    import jinja2
    from jinja2.bccache import FileSystemBytecodeCache

    from axowrap import cache

    if not cache.enabled():
        return None

    class Kept(FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, ValueError, EOFError):  # unreadable or cut short: compile afresh
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            try:
                Path(self.directory).mkdir(parents=True, exist_ok=True)
                super().dump_bytecode(bucket)
            except OSError:  # a read-only cache folder costs speed, nothing else
                pass

    digest = hashlib.sha256(repr((jinja2.__version__, sorted(OPTIONS.items()))).encode()).hexdigest()[:12]
    return Kept(str(cache.cache_dir() / "jinja"), f"{digest}-%s.cache")


@cache
def _environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        bytecode_cache=_bytecode_cache(),
        **OPTIONS,
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
