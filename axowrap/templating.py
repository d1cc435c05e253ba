"""The one Jinja environment every generated file goes through: sandboxed, StrictUndefined,
with the `yaml` filters that keep a value inside the YAML it is put in (axowrap.yamlemit).
Configs, specs, job files, cards, Modelfiles and the team scaffold are all rendered here."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from axowrap.resources import templates_dir
from axowrap.yamlemit import to_comment, to_yaml, to_yaml_block

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
    env.filters["comment"] = to_comment
    return env


def render_template(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)
