"""Editing a spec's text in place (what `sweep promote` does): values replaced or added where
they belong, comments and layout kept, a note above each change, and a read-back check."""

from __future__ import annotations

import pytest

from axowrap.errors import AxowrapError
from axowrap.spec.edit import set_values
from axowrap.yamlio import parse_yaml

SPEC = """\
# my spec: keep this comment
task: sql
base_model: ./model   # a local folder
datasets:
  - path: data/sql.jsonl   # relative
    format: alpaca
training: {epochs: 3, learning_rate: 2.0e-4}
eval:
  holdout: 0.1   # held out
"""


def test_values_are_replaced_in_block_and_flow_mappings_with_a_note() -> None:
    new = set_values(
        SPEC,
        [(("training", "learning_rate"), 1e-4), (("eval", "holdout"), 0.2), (("datasets", 0, "format"), "messages")],
        "from sweep s-1 point p2",
    )
    assert new == (
        "# my spec: keep this comment\n"
        "task: sql\n"
        "base_model: ./model   # a local folder\n"
        "datasets:\n"
        "  - path: data/sql.jsonl   # relative\n"
        "    # axowrap: datasets[0].format from sweep s-1 point p2\n"
        "    format: messages\n"
        "# axowrap: training.learning_rate from sweep s-1 point p2\n"
        "training: {epochs: 3, learning_rate: 1.0e-4}\n"
        "eval:\n"
        "  # axowrap: eval.holdout from sweep s-1 point p2\n"
        "  holdout: 0.2   # held out\n"
    )


def test_missing_keys_are_added_to_the_nearest_mapping() -> None:
    new = set_values(
        SPEC,
        [(("training", "seed"), 7), (("eval", "metric"), "sql_exact_match"), (("lora", "r"), 8)],
        "from sweep s-1 point p3",
    )
    data = parse_yaml(new, "x").data
    assert data["training"] == {"seed": 7, "epochs": 3, "learning_rate": 2e-4}
    assert data["eval"] == {"holdout": 0.1, "metric": "sql_exact_match"}
    assert data["lora"] == {"r": 8}
    assert "  # axowrap: eval.metric from sweep s-1 point p3\n  metric: sql_exact_match\n" in new
    assert new.endswith("# axowrap: lora.r from sweep s-1 point p3\nlora: {r: 8}\n")
    assert "# my spec: keep this comment\n" in new and "# held out" in new


def test_a_second_promotion_replaces_the_older_note() -> None:
    once = set_values(SPEC, [(("training", "learning_rate"), 1e-4)], "from sweep a point p1")
    twice = set_values(once, [(("training", "learning_rate"), 3e-4)], "from sweep b point p4")
    assert "sweep a" not in twice
    assert (
        "# axowrap: training.learning_rate from sweep b point p4\ntraining: {epochs: 3, learning_rate: 3.0e-4}" in twice
    )


def test_values_cannot_break_out_of_their_place() -> None:
    hostile = "x\nmethod: full  # injected"
    new = set_values(SPEC, [(("datasets", 0, "format"), hostile)], "from sweep s point p1")
    assert parse_yaml(new, "x").data["datasets"][0]["format"] == hostile
    assert "method" not in parse_yaml(new, "x").data


def test_a_list_entry_that_is_not_there_is_an_error() -> None:
    with pytest.raises(AxowrapError, match=r"datasets\[3\].format: datasets has no entry \[3\] in the spec"):
        set_values(SPEC, [(("datasets", 3, "format"), "alpaca")], "n")
