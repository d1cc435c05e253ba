"""Ollama Modelfile: FROM the GGUF, a TEMPLATE equivalent to the model's HF chat template (Go
text/template, as Ollama uses), PARAMETER stop for the end-of-turn tokens.

The template family is recognised from the HF chat template's markers. An unknown template is
not guessed: the Modelfile then has no TEMPLATE and Ollama uses the template stored in the GGUF.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


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


def modelfile_text(gguf: str, family: Family | None) -> str:
    from axowrap.templating import render_template

    return render_template(
        "Modelfile.j2",
        gguf=gguf,
        family=family,
        template=family.template if family else None,
        stops=list(family.stop) if family else [],
    )
