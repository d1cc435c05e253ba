"""The Modelfile's TEMPLATE renders the same prompt text as the training format.

Ollama renders TEMPLATE with Go's text/template; Go is not on this machine, so
axowrap.gotemplate implements the subset the templates use with Go's semantics.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axowrap.chat.format import PromptFormat
from axowrap.gotemplate import go_render
from axowrap.serve.modelfile import FAMILIES, chat_template, detect_family, modelfile_text, serve_template

CONVERSATION = [
    {"role": "system", "content": "You write SQL."},
    {"role": "user", "content": "How many users?"},
    {"role": "assistant", "content": "SELECT COUNT(*) FROM users;"},
    {"role": "user", "content": "And orders?"},
]


def template_of(modelfile: str) -> str:
    m = re.search(r'^TEMPLATE """(.*?)"""$', modelfile, re.S | re.M)
    assert m, modelfile
    return m.group(1)


def test_go_render_follows_go_trimming() -> None:
    assert (
        go_render("a  {{- range .Messages }} [{{ .Role }}] {{- end }}  b", [{"role": "x", "content": ""}]) == "a [x]  b"
    )


def test_chatml_modelfile_renders_the_hf_chat_template_of_the_tiny_model(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    family = detect_family(chat_template(tiny_model))
    assert family is not None and family.name == "chatml"
    fmt = PromptFormat(kind="chat", chat_template=chat_template(tiny_model), end_of_turn=("<|im_end|>",))
    modelfile = modelfile_text("../gguf/tiny-q4_k_m.gguf", serve_template(fmt))
    want = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert go_render(template_of(modelfile), CONVERSATION) == want
    assert 'PARAMETER stop "<|im_end|>"' in modelfile.splitlines()
    assert modelfile.splitlines()[1] == "FROM ../gguf/tiny-q4_k_m.gguf"


# Reference chat templates, as the model families ship them (system messages left out where the
# family has no system role).
HF_TEMPLATES = {
    "llama3": "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    "gemma": "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}{{ '<start_of_turn>' + role + '\n' + m['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}",
    "phi3": "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
    "mistral": "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] + '[/INST]' }}{% elif m['role'] == 'assistant' %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}",
}


@pytest.mark.parametrize("name", sorted(HF_TEMPLATES))
def test_each_family_renders_like_its_hf_template(name: str) -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    family = detect_family(HF_TEMPLATES[name])
    assert family is not None and family.name == name
    conversation = CONVERSATION if name in ("llama3", "phi3") else CONVERSATION[1:]
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    # BOS is added by the tokenizer in Ollama/llama.cpp, not by the TEMPLATE.
    want = env.from_string(HF_TEMPLATES[name]).render(
        messages=conversation, bos_token="", eos_token="</s>", add_generation_prompt=name != "mistral"
    )
    assert go_render(family.template, conversation) == want


def test_unknown_template_falls_back_to_the_gguf_template_and_says_so() -> None:
    assert detect_family("{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}") is None
    assert detect_family(None) is None
    unknown = PromptFormat(kind="chat", chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}")
    text = modelfile_text("model.gguf", serve_template(unknown))
    assert "TEMPLATE" not in text.replace("no TEMPLATE", "")
    assert "no TEMPLATE: Ollama uses the chat template stored in the GGUF" in text
    assert "PARAMETER stop" not in text


def test_every_family_has_stops_and_distinct_markers() -> None:
    names = [f.name for f in FAMILIES]
    assert len(set(names)) == len(names)
    for family in FAMILIES:
        assert family.stop and all(
            m in family.template or m in family.stop or m == "<|eot_id|>" for m in family.markers
        )


@pytest.mark.axolotl
def test_the_sql_modelfile_renders_the_raw_prompt_training_used(tiny_model: Path, tmp_path: Path) -> None:
    """The sql task trains on `### Database schema ... ### SQL:`, not ChatML: the Modelfile's
    TEMPLATE renders Axolotl's own prompt (the user message as the question, SYSTEM as the schema)."""
    from axolotl.prompt_strategies import load
    from axolotl.utils.dict import DictDefault
    from conftest import tiny_spec
    from transformers import AutoTokenizer

    from axowrap.chat.format import derive_format
    from axowrap.config.render import render_spec
    from axowrap.validate import load_spec

    config = render_spec(load_spec(tiny_spec(tmp_path, tiny_model)), base_dir=None).config
    fmt = derive_format(config, None)
    served = serve_template(fmt)
    text = modelfile_text("../gguf/tiny-f16.gguf", served)
    assert template_of(text) == served.template and 'PARAMETER stop "</s>"' in text.splitlines()
    ds_type = config["datasets"][0]["type"]
    strategy = load("user_defined", AutoTokenizer.from_pretrained(str(tiny_model)), DictDefault(config), ds_type)
    for schema in ("CREATE TABLE users (id int);", ""):
        want = next(iter(strategy.prompter.build_prompt_w_system("", "How many users?", schema)))
        assert go_render(template_of(text), system=schema, prompt="How many users?") == want
    assert want.startswith("### Database schema:\n") and "<|im_start|>" not in template_of(text)


def test_a_prompt_with_go_template_braces_stays_text() -> None:
    from axowrap.chat.format import INPUT, INSTRUCTION
    from axowrap.serve.modelfile import alpaca_template

    fmt = PromptFormat(kind="alpaca", with_input=f"{{{{x}}}} {INPUT}: {INSTRUCTION}", no_input=f"{INSTRUCTION}")
    assert go_render(alpaca_template(fmt), system="s", prompt="p") == "{{x}} s: p"
    assert go_render(alpaca_template(fmt), prompt="p") == "p"
