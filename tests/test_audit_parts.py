"""The stop audit's parts on hand-made inputs: labelled spans, the Modelfile parser, the Go
template subset, the push refusal and the card (fast; the real cases are in test_audit.py)."""

from __future__ import annotations

from typing import Any

import pytest

from axowrap.audit.modelfile import parse_modelfile
from axowrap.audit.rows import row_problem, spans
from axowrap.gotemplate import Unsupported, go_render
from axowrap.steps.push import audit_refusal

IGNORE = -100


def test_spans_are_the_runs_of_labelled_tokens() -> None:
    assert spans([IGNORE, 5, 6, IGNORE, IGNORE, 7, 8]) == [(1, 3), (5, 7)]
    assert spans([IGNORE, IGNORE]) == []


@pytest.mark.parametrize(
    ("labels", "want"),
    [
        ([IGNORE, IGNORE, 10, 11, 4, IGNORE], None),  # answer + labelled <|im_end|> (id 4)
        ([IGNORE, IGNORE, 10, 11, IGNORE, IGNORE], "masked"),  # the terminator follows, unlabelled
    ],
)
def test_a_trained_answer_must_end_with_a_labelled_end_of_turn(labels: list[int], want: str | None) -> None:
    assert row_problem([1, 9, 10, 11, 4, 12], labels, {4}) == want


def test_an_answer_with_no_end_of_turn_after_it_is_missing() -> None:
    assert (
        row_problem([1, 9, 10, 11, 12, 13, 14, 15], [IGNORE, IGNORE, 10, 11, IGNORE, IGNORE, IGNORE, IGNORE], {4})
        == "missing"
    )


def test_modelfile_parser_reads_triple_quoted_templates_and_stops() -> None:
    text = (
        '# comment\nFROM ../gguf/x-f16.gguf\nTEMPLATE """{{ if .System }}A\nPARAMETER stop "x"\n{{ end }}"""\n'
        'PARAMETER stop "</s>"\nPARAMETER stop "<|im_end|>"\nPARAMETER temperature 0.7\n'
    )
    parsed = parse_modelfile(text)
    assert parsed["from"] == "../gguf/x-f16.gguf"
    assert parsed["template"] == '{{ if .System }}A\nPARAMETER stop "x"\n{{ end }}'
    assert [v for k, v in parsed["parameters"] if k == "stop"] == ["</s>", "<|im_end|>"]


def test_go_subset_renders_system_prompt_branches_and_refuses_the_rest() -> None:
    template = '{{ if .System }}S:{{ .System }} {{ end }}Q:{{ .Prompt }}{{ "{{" }}'
    assert go_render(template, system="x", prompt="q") == "S:x Q:q{{"
    assert go_render(template, prompt="q") == "Q:q{{"
    with pytest.raises(Unsupported, match="template action"):
        go_render("{{ .Messages | len }}")


FAILED: dict[str, Any] = {
    "failures": ["modelfile: Modelfile: no `PARAMETER stop` for the end-of-turn token '</s>'"],
    "checks": {"modelfile": {"status": "failed", "fix": "write it again with `axowrap gguf RUN --force`"}},
}


def test_push_refuses_a_failed_audit_unless_told_to_push_anyway() -> None:
    refusal = audit_refusal(FAILED, allowed=False)
    assert refusal is not None
    assert refusal.message == (
        "not pushing: the stop audit failed (modelfile: Modelfile: no `PARAMETER stop` for the end-of-turn token '</s>')"
    )
    assert refusal.hint is not None and refusal.hint.startswith("write it again with `axowrap gguf RUN --force`")
    assert "--allow-failed-audit" in refusal.hint
    assert audit_refusal(FAILED, allowed=True) is None
    assert audit_refusal(None, allowed=False) is None
    assert audit_refusal({"failures": [], "checks": {}}, allowed=False) is None


def test_the_card_records_a_push_past_a_failed_audit() -> None:
    from axowrap.hub.cards import CardInputs, render_card

    inputs = CardInputs(
        kind="gguf",
        repo_id="me/sql-gguf",
        repos={"gguf": "me/sql-gguf"},
        spec={"task": "sql", "datasets": []},
        config={"base_model": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        manifest={},
        metrics={},
        files=["sql-f16.gguf"],
        audit=FAILED,
        audit_override=True,
    )
    card = render_card(inputs)
    assert "| modelfile | FAILED |" in card
    assert "**Pushed with `--allow-failed-audit` although the stop audit failed:**" in card
    assert "- modelfile: Modelfile: no \\`PARAMETER stop\\` for the end\\-of\\-turn token '\\</s\\>'" not in card
    assert "- modelfile: Modelfile: no \\`PARAMETER stop\\` for the end-of-turn token '\\</s\\>'" in card
    plain = render_card(CardInputs(**{**inputs.__dict__, "audit": None, "audit_override": False}))
    assert "No stop audit was run for this model." in plain


# --- the behaviour check's cost controls (issue 16): same answers, less work


def test_accepting_a_draft_gives_hf_greedy_answer_exactly() -> None:
    from axowrap.audit.generate import accept

    eos = {2}
    # HF agrees with the whole draft, ending on its EOS: finished, stop
    assert accept([5, 6, 2], [5, 6, 2], eos, 10) == ([5, 6, 2], "stop")
    # HF disagrees at the second token: its own token is kept, and decoding must go on from there
    assert accept([5, 9, 2], [5, 6, 2], eos, 10) == ([5, 9], None)
    # HF ends on an EOS the draft went past (llama.cpp does not stop on it): stop there
    assert accept([5, 2, 7], [5, 2], eos, 10) == ([5, 2], "stop")
    # the draft ended on a token that is not HF's EOS: HF's next token decides
    assert accept([5, 6, 8], [5, 6], eos, 10) == ([5, 6, 8], None)
    # the limit is reached inside the draft: length, whatever follows
    assert accept([5, 6, 7, 8], [5, 6, 7], eos, 2) == ([5, 6], "length")
    # an EOS as the last allowed token is a stop, as in `generate`
    assert accept([5, 2], [5, 2], eos, 2) == ([5, 2], "stop")


def test_verified_answers_equal_generate(tiny_model: Any) -> None:
    """The HF answers found by verifying a draft (a wrong one here, and one cut short) are
    `generate`'s greedy answers, token for token, with the cache reused across prompts."""
    from axowrap.audit.generate import hf_batched, hf_verified

    prompts = [[1, 40, 41, 42, 43], [1, 40, 41, 50], [1, 60, 61, 62, 63, 64, 65]]
    job = {"hf": {"label": "merged", "model": str(tiny_model)}, "prompts": prompts, "max_tokens": 12}
    job.update(pad_id=0, stop_after=len(prompts))
    want = {r["prompt"]: r for r in hf_batched(job, prompts, [0, 1, 2])["results"]}
    drafts = [
        {"prompt": 0, "ids": want[0]["ids"]},  # right: accepted in one pass
        {"prompt": 1, "ids": want[1]["ids"][:2] + [7, 7, 7]},  # right, then wrong
        {"prompt": 2, "ids": []},  # nothing: HF decodes alone
    ]
    got = hf_verified(job, prompts, drafts)["results"]
    for r in got:
        assert (r["ids"], r["finish_reason"]) == (want[r["prompt"]]["ids"], want[r["prompt"]]["finish_reason"])
    assert got[0]["verified"] == len(want[0]["ids"]) and got[2]["verified"] == 1


def test_prompts_sharing_a_prefix_are_generated_one_after_another() -> None:
    from axowrap.audit.generate import common_prefix, order_of

    prompts = [[1, 9, 3], [1, 2, 3, 4], [1, 9, 2], [1, 2, 3, 5]]
    assert order_of(prompts) == [1, 3, 2, 0]
    assert common_prefix([1, 2, 3, 4], [1, 2, 3, 5]) == 3


def test_threads_are_the_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from axowrap.audit.generate import threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    for load, want in ((0.0, 2), (0.4, 2), (0.8, 1), (6.0, 1)):
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert threads() == want


def test_the_answer_limit_follows_the_held_out_answers() -> None:
    """A fixed 128-token limit failed every task whose right answers are longer (a 200-token
    summary ended by itself after 200 tokens, past the limit)."""
    from axowrap.audit.checks import MAX_TOKENS, answer_limit

    assert answer_limit([200, 35]) == 400
    assert answer_limit([74, 20]) == 148
    assert answer_limit([3, 4]) == 32  # a label: room for the model's own wording
    assert answer_limit([2000]) == 512
    assert answer_limit([]) == MAX_TOKENS


def test_the_gguf_header_reader_agrees_with_gguf_py(tmp_path: Any) -> None:
    from gguf import GGUFReader, GGUFWriter

    from axowrap.audit.metadata import GGUF_KEYS, gguf_fields

    path = tmp_path / "x.gguf"
    writer = GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(300)] + ["<|im_end|>"])
    writer.add_token_scores([0.5] * 301)
    writer.add_eos_token_id(300)
    writer.add_bos_token_id(1)
    writer.add_add_bos_token(False)
    writer.add_string("general.note", "an array above, a string here")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    reader = GGUFReader(str(path))
    want = {k: f.contents() for k in GGUF_KEYS if (f := reader.get_field(k)) is not None}
    assert (
        gguf_fields(path)
        == want
        == {
            "tokenizer.ggml.eos_token_id": 300,
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.add_bos_token": False,
        }
    )


def _answers(reasons: list[str], offset: int = 0) -> list[dict[str, Any]]:
    return [{"prompt": n + offset, "finish_reason": r, "tokens": 4, "ids": [1, 2, 3, n]} for n, r in enumerate(reasons)]


def test_a_backend_that_stopped_generating_early_fails_with_its_counts() -> None:
    from axowrap.audit.checks import _behaviour
    from axowrap.chat.format import PromptFormat

    behaviour = {
        "source": "held-out",
        "prompts": 16,
        "max_tokens": 148,
        "max_tokens_from": "2 x the longest held-out answer (74 tokens)",
        "draft": "f16",
        "hf": {"label": "merged", "results": _answers(["stop", "length", "length", "length"]), "stopped_early": True},
        "gguf": {"f16": {"results": _answers(["stop", "length", "length", "length"]), "stopped_early": True}},
    }
    result = _behaviour(behaviour, PromptFormat(kind="alpaca"), {})
    assert result["status"] == "failed"
    assert result["problems"] == [
        "hf:merged: 3 of 4 answers did not end by themselves within 148 tokens (generation stopped there, 4 of 16 "
        "prompts asked: 3 such answers fail the check)",
        "gguf:f16: 3 of 4 answers did not end by themselves within 148 tokens (generation stopped there, 4 of 16 "
        "prompts asked: 3 such answers fail the check)",
    ]
    assert result["gguf:f16"]["first_k_match"] == 4


def test_first_tokens_are_compared_prompt_by_prompt() -> None:
    """HF stopped generating before the GGUF did: only the prompts both answered are compared."""
    from axowrap.audit.checks import _behaviour
    from axowrap.chat.format import PromptFormat

    gguf = _answers(["stop"] * 5)
    gguf[4]["ids"] = [9, 9, 9]
    behaviour = {
        "source": "held-out",
        "prompts": 5,
        "max_tokens": 32,
        "max_tokens_from": "given",
        "hf": {"label": "merged", "results": list(reversed(_answers(["stop"] * 5)))},
        "gguf": {"f16": {"results": gguf}},
    }
    result = _behaviour(behaviour, PromptFormat(kind="alpaca"), {})
    assert result["problems"] == ["gguf:f16: the first 8 greedy tokens differ from HF on 1 of 5 prompts"]
    behaviour["hf"]["results"] = _answers(["stop"] * 4)
    assert _behaviour(behaviour, PromptFormat(kind="alpaca"), {})["status"] == "passed"


SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.mark.parametrize("add_bos", [False, True])
def test_a_chatml_template_whose_bos_text_is_its_own_first_token_is_checked_as_llama_cpp_reads_it(
    add_bos: bool,
) -> None:
    """SmolLM2's BOS is `<|im_start|>` and its tokenizer adds none: the ChatML TEMPLATE's own
    `<|im_start|>` is the prompt's first token, not a BOS llama.cpp adds (the tools demo's
    Modelfile was called wrong for it)."""
    from axowrap.audit.modelfile import template_problem
    from axowrap.serve.modelfile import serve_template

    fmt = _smollm2(add_bos)
    served = serve_template(fmt)
    assert served.template is not None
    problem = template_problem(served.template, fmt, served.system)
    # where llama.cpp added `<|im_start|>` itself, the TEMPLATE's own would double it
    assert problem == (None if not add_bos else "has a TEMPLATE that does not render the chat template training used")


def _smollm2(add_bos: bool = False) -> Any:
    from axowrap.chat.format import PromptFormat

    return PromptFormat(
        kind="chat",
        chat_template=SMOLLM2_TEMPLATE,
        end_of_turn=("<|im_end|>",),
        add_bos=add_bos,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
    )


def test_the_training_templates_default_system_prompt_goes_into_the_modelfile(tmp_path: Any) -> None:
    """SmolLM2's template puts its own system prompt first when a conversation has none:
    served by Ollama without it, the model would see a prompt it was never trained on."""
    from axowrap.audit.modelfile import check_modelfile, template_problem
    from axowrap.serve.modelfile import modelfile_text, serve_template

    fmt = _smollm2()
    served = serve_template(fmt)
    assert served.system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert template_problem(served.template, fmt, None) == (
        "has a TEMPLATE that does not render the chat template training used "
        "(for a conversation without a system message)"
    )
    path = tmp_path / "Modelfile"
    path.write_text(modelfile_text("../gguf/m.gguf", served), encoding="utf-8")
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in path.read_text()
    assert check_modelfile(path, fmt, ["<|im_end|>"])["problems"] == []
    plain = _smollm2().__class__(**{**vars(fmt), "chat_template": SMOLLM2_TEMPLATE.split("{% for")[0] + PLAIN_CHATML})
    assert serve_template(plain).system is None  # a template without a default adds no SYSTEM


PLAIN_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def test_a_chat_template_that_fails_in_its_own_expressions_is_an_error_not_a_crash() -> None:
    """`'text' + 1` in a template raises TypeError inside Jinja: a message, and no Modelfile SYSTEM guess."""
    from axowrap.chat.format import render_chat_template
    from axowrap.errors import AxowrapError
    from axowrap.serve.modelfile import serve_template

    fmt = _smollm2().__class__(
        **{**vars(_smollm2()), "chat_template": "<|im_start|><|im_end|>{{ messages[0]['content'] + 1 }}"}
    )
    with pytest.raises(AxowrapError, match="the training chat template does not render"):
        render_chat_template(fmt, [{"role": "user", "content": "hi"}])
    assert serve_template(fmt).system is None
