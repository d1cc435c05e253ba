"""Does the chat template a run will use accept a conversation's role order? Rendered for
real: the template's own Jinja text (Axolotl's bundled template by name, or the tokenizer's
from a local model folder) with the sandbox and `raise_exception` that transformers gives it.
Many templates refuse an assistant turn first or two user turns in a row
(`raise_exception('Conversation roles must alternate ...')`); Axolotl then fails preparing the
data. Nothing heavy is imported: the template files are read from where Axolotl is installed.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = "tokenizer_default_fallback_chatml"  # what render writes for chat data


class _Refused(Exception):
    pass


def _raise(message: str) -> None:
    raise _Refused(message)


@dataclass
class TemplateJudge:
    """A chat template, compiled once; `refuses(roles)` renders a conversation with those roles."""

    name: str
    source: str
    _cache: dict[tuple[str, ...], str | None] = field(default_factory=dict)
    _template: Any = None

    def refuses(self, roles: tuple[str, ...]) -> str | None:
        """The template's own error for a conversation with these roles, or None when it renders."""
        if roles not in self._cache:
            self._cache[roles] = self._render(roles)
        return self._cache[roles]

    def _render(self, roles: tuple[str, ...]) -> str | None:
        if self._template is None:
            self._template = _compile(self.source)
            if self._template is None:
                return None
        messages = [{"role": r, "content": f"turn {i}"} for i, r in enumerate(roles)]
        try:
            self._template.render(messages=messages, add_generation_prompt=False, bos_token="", eos_token="")
        except _Refused as exc:
            return str(exc)
        except Exception:  # anything else is the template's business, not the order's
            return None
        return None


def _compile(source: str) -> Any:
    """The template compiled as transformers compiles chat templates (sandboxed), or None."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(Extension):  # `{% generation %}` marks assistant text for masking; render its body
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.Scope(body, lineno=lineno)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: "2026-01-01"
    try:
        return env.from_string(source)
    except jinja2.TemplateError:
        return None


def axolotl_templates() -> Path | None:
    """The folder of Axolotl's bundled chat templates (found without importing Axolotl)."""
    spec = importlib.util.find_spec("axolotl")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "utils" / "chat_templates" / "templates"
    return folder if folder.is_dir() else None


def tokenizer_template(folder: Path) -> str | None:
    """The chat template saved with a tokenizer in a local model folder, if any."""
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one
        template = next(
            (t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"), None
        )
    return template if isinstance(template, str) else None


def judge_for(name: str | None, model_folder: Path | None) -> TemplateJudge | None:
    """The judge for Axolotl's `chat_template: NAME` with the base model in `model_folder`
    (None: a Hub model, whose tokenizer template is not read here). None when unknown."""
    name = name or DEFAULT_TEMPLATE
    if name.startswith("tokenizer_default"):
        source = tokenizer_template(model_folder) if model_folder is not None else None
        if source is not None:
            return TemplateJudge(f"{name} (the tokenizer's)", source)
        if not name.startswith("tokenizer_default_fallback_"):
            return None
        name = name.removeprefix("tokenizer_default_fallback_")
    folder = axolotl_templates()
    path = folder / f"{name}.jinja" if folder is not None else None
    if path is None or not path.is_file():
        return None
    return TemplateJudge(name, path.read_text(encoding="utf-8"))
