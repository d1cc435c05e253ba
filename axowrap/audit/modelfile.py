"""The Modelfile check: its `PARAMETER stop` lines cover every end-of-turn token, and its
TEMPLATE, rendered as Ollama renders it (axowrap.gotemplate), gives the prompt training
used (no TEMPLATE falls back to the GGUF's chat template, which an alpaca-trained model never saw).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axowrap.chat.format import PromptFormat

# Ollama's Modelfile: one instruction per line; an argument in """...""" may span lines.
_INSTRUCTION = re.compile(r'^[ \t]*(?P<key>[A-Za-z]+)[ \t]+(?:"""(?P<block>.*?)"""|(?P<line>[^\n]*))', re.M | re.S)


def parse_modelfile(text: str) -> dict[str, Any]:
    """{"from", "template", "system", "parameters": [(name, value)]} of a Modelfile."""
    out: dict[str, Any] = {"from": None, "template": None, "system": None, "parameters": []}
    for m in _INSTRUCTION.finditer(text):
        key = m["key"].upper()
        value = m["block"] if m["block"] is not None else m["line"].strip()
        if key == "PARAMETER":
            name, _, val = value.partition(" ")
            out["parameters"].append((name, _unquote(val.strip())))
        elif key in ("FROM", "TEMPLATE", "SYSTEM"):
            out[key.lower()] = value if m["block"] is not None else _unquote(value)
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        import json

        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    return value


SAMPLE = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "How many users?"},
    {"role": "assistant", "content": "SELECT COUNT(*) FROM users;"},
    {"role": "user", "content": "And orders?"},
]


def template_problem(template: str | None, fmt: PromptFormat, system: str | None = None) -> str | None:
    """Why this TEMPLATE (with the Modelfile's SYSTEM, which Ollama puts first in a conversation
    without a system message) does not render the training prompt (None: it does)."""
    from axowrap.gotemplate import Unsupported, go_render
    from axowrap.serve.modelfile import serve_template

    if template is None:
        if serve_template(fmt).template is None:
            return None  # an unrecognised chat template: Ollama uses the GGUF's, which is the training one
        return "has no TEMPLATE: Ollama would use the GGUF's chat template, not the prompt format training used"
    try:
        if fmt.kind == "alpaca":
            cases = [("How many users?", "CREATE TABLE users (id integer);"), ("How many users?", "")]
            for instruction, input_text in cases:
                if go_render(template, system=input_text, prompt=instruction) != fmt.alpaca_prompt(
                    instruction, input_text
                ):
                    return "has a TEMPLATE that does not render the prompt training used"
            return None
        if fmt.kind == "text":
            return None if go_render(template, prompt="Once upon") == "Once upon" else "does not pass the text as is"
        # with a system message where the template takes one, and without (where a training
        # template may put in its own default, which the Modelfile's SYSTEM must carry)
        conversations = [SAMPLE, SAMPLE[1:]] if "system" in str(fmt.chat_template) else [SAMPLE[1:]]
        for messages in conversations:
            want = fmt.chat_prompt(messages)
            if fmt.add_bos and fmt.bos_token and want.startswith(fmt.bos_token):
                # llama.cpp adds the BOS token where the tokenizer does; the TEMPLATE does not. Where
                # it does not (SmolLM2: BOS is `<|im_start|>`), that text is the template's own.
                want = want[len(fmt.bos_token) :]
            served = messages
            if system is not None and messages[0]["role"] != "system":
                served = [{"role": "system", "content": system}, *messages]  # as Ollama does
            if go_render(template, served) != want:
                without = "" if messages[0]["role"] == "system" else " (for a conversation without a system message)"
                return f"has a TEMPLATE that does not render the chat template training used{without}"
    except Unsupported as exc:
        return f"has a TEMPLATE axowrap cannot check ({exc})"
    return None


def check_modelfile(path: Path, fmt: PromptFormat, end_of_turn: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {"file": str(path), "problems": [f"{path}: no Modelfile (the gguf step writes it)"]}
    parsed = parse_modelfile(path.read_text(encoding="utf-8"))
    stops = [v for k, v in parsed["parameters"] if k == "stop"]
    problems = []
    missing = [t for t in end_of_turn if t not in stops]
    if missing:
        problems.append(
            f"{path.name}: no `PARAMETER stop` for the end-of-turn token {', '.join(repr(t) for t in missing)}"
        )
    template = template_problem(parsed["template"], fmt, parsed["system"])
    if template:
        problems.append(f"{path.name} {template}")
    return {"file": str(path), "stops": stops, "has_template": parsed["template"] is not None, "problems": problems}
