"""The stop audit's parts on hand-made inputs: labelled spans, the Modelfile parser, the Go
template subset, the push refusal and the card (fast; the real cases are in test_audit.py)."""

from __future__ import annotations

from typing import Any

import pytest

from axowrap.audit.modelfile import parse_modelfile
from axowrap.audit.rows import row_problem, spans
from axowrap.serve.gotemplate import Unsupported, go_render
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
