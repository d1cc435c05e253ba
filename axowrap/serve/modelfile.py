"""Ollama Modelfile: FROM the GGUF, a TEMPLATE that renders the prompt format training used (Go
text/template, as Ollama uses), PARAMETER stop for every end-of-turn token.

- alpaca runs (a raw prompt such as the sql task's `### Database schema ... ### SQL:`): the
  training prompt itself, with the user's message as {instruction} and SYSTEM as {input};
- chat runs: the template family recognised from the training chat template's markers (an
  unknown template is not guessed: no TEMPLATE, and Ollama uses the one stored in the GGUF);
- completion runs: the raw prompt (`{{ .Prompt }}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from axowrap.chat.format import PromptFormat


@dataclass(frozen=True)
class Family:
    name: str
    markers: tuple[str, ...]  # all must appear in the HF chat template
    template: str  # Go text/template over .Messages (.Role, .Content)
    stop: tuple[str, ...]


FAMILIES = (
    Family(
        "llama3",
        ("<|start_header_id|>", "<|eot_id|>"),
        "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>"
        "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
        ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    ),
    Family(
        "chatml",
        ("<|im_start|>", "<|im_end|>"),
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
        ("<|im_start|>", "<|im_end|>"),
    ),
    Family(
        "gemma",
        ("<start_of_turn>", "<end_of_turn>"),
        '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}\n'
        "{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n",
        ("<start_of_turn>", "<end_of_turn>"),
    ),
    Family(
        "phi3",
        ("<|user|>", "<|end|>", "<|assistant|>"),
        "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n",
        ("<|end|>", "<|user|>", "<|assistant|>", "<|endoftext|>"),
    ),
    Family(
        "mistral",
        ("[INST]", "[/INST]"),
        '{{- range .Messages }}{{ if eq .Role "user" }}[INST] {{ .Content }}[/INST]'
        '{{ else if eq .Role "assistant" }}{{ .Content }}</s>{{ end }}{{ end }}',
        ("[INST]", "[/INST]", "</s>"),
    ),
)


def chat_template(model_dir: Path) -> str | None:
    """The HF chat template of a model folder (chat_template.jinja or tokenizer_config.json)."""
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(value, list):  # named templates: the default one
            value = next((t.get("template") for t in value if t.get("name") == "default"), None)
        return value if isinstance(value, str) else None
    return None


def detect_family(template: str | None) -> Family | None:
    if not template:
        return None
    return next((f for f in FAMILIES if all(m in template for m in f.markers)), None)


def go_literal(text: str) -> str:
    """Text placed verbatim in a Go template (`{{` would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


def alpaca_template(fmt: PromptFormat) -> str:
    from axowrap.chat.format import INPUT, INSTRUCTION

    def fill(prompt: str) -> str:
        return go_literal(prompt).replace(INSTRUCTION, "{{ .Prompt }}").replace(INPUT, "{{ .System }}")

    return f"{{{{ if .System }}}}{fill(str(fmt.with_input))}{{{{ else }}}}{fill(str(fmt.no_input))}{{{{ end }}}}"


@dataclass(frozen=True)
class ServeTemplate:
    name: str  # what the Modelfile's comment calls it
    template: str | None  # None: no TEMPLATE line (Ollama uses the GGUF's chat template)
    stops: tuple[str, ...]
    note: str  # one comment line for the Modelfile
    # the system prompt the training chat template puts in when a conversation has none
    # (SmolLM2's "You are a helpful AI assistant named SmolLM..."): the Modelfile's SYSTEM, which
    # Ollama puts first when a request has no system message
    system: str | None = None


def default_system(fmt: PromptFormat, template: str) -> str | None:
    """The system prompt the training template adds to a conversation without one, read by
    rendering both templates with marked contents (None: it adds none, or not as a message)."""
    from axowrap.errors import AxowrapError
    from axowrap.gotemplate import Unsupported, go_render

    user = [{"role": "user", "content": "\x00"}]
    try:
        trained = fmt.chat_prompt(user)
        if fmt.add_bos and fmt.bos_token and trained.startswith(fmt.bos_token):
            trained = trained[len(fmt.bos_token) :]  # llama.cpp adds it, not the TEMPLATE
        if trained == go_render(template, user):
            return None
        head, marker, tail = go_render(template, [{"role": "system", "content": "\x01"}, *user]).partition("\x01")
    except (AxowrapError, Unsupported):
        return None
    if marker and len(trained) >= len(head) + len(tail) and trained.startswith(head) and trained.endswith(tail):
        found = trained[len(head) : len(trained) - len(tail)]
        return found if found and "\x00" not in found else None
    return None


def serve_template(fmt: PromptFormat) -> ServeTemplate:
    """The Modelfile TEMPLATE and stops for a run's prompt format (the audit expects exactly these)."""
    eot = tuple(fmt.end_of_turn)
    if fmt.kind == "alpaca":
        return ServeTemplate(
            "the training prompt (alpaca)",
            alpaca_template(fmt),
            eot,
            "the user message is the prompt's {instruction}, SYSTEM its {input}",
        )
    if fmt.kind == "text":
        return ServeTemplate("raw text (completion)", "{{ .Prompt }}", eot, "the prompt is continued as it is")
    family = detect_family(fmt.chat_template)
    if family is None:
        return ServeTemplate(
            "not recognised", None, eot, "no TEMPLATE: Ollama uses the chat template stored in the GGUF"
        )
    stops = tuple(dict.fromkeys((*family.stop, *eot)))
    return ServeTemplate(
        family.name,
        family.template,
        stops,
        "recognised from the chat template training used",
        default_system(fmt, family.template),
    )


def modelfile_text(gguf: str, served: ServeTemplate) -> str:
    import json

    from axowrap.errors import AxowrapError
    from axowrap.templating import render_template

    if served.template is not None and '"""' in served.template:
        raise AxowrapError(
            'the prompt format holds """, which a Modelfile TEMPLATE cannot contain',
            hint="remove it from the spec's `prompt`",
        )
    if served.system is not None and '"""' in served.system:
        raise AxowrapError(
            'the chat template\'s default system prompt holds """, which a Modelfile SYSTEM cannot contain',
            hint="give the model a chat template whose default system prompt has no triple quotes",
        )
    return render_template(
        "Modelfile.j2",
        gguf=gguf,
        served=served,
        stops=[json.dumps(s, ensure_ascii=False) for s in served.stops],
    )
