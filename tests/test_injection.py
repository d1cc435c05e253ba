"""No spec value can add or change a key of the rendered config (hypothesis-generated strings)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axowrap.config.render import render_spec
from axowrap.validate import load_spec
from axowrap.yamlemit import to_yaml

NASTY = ": # { } [ ] & * ! | > ' \" % @ ` \n\r\t\\ - ? , \x85 \u2028 \ufeff"
text = st.text(alphabet=st.sampled_from(list(NASTY)) | st.characters(), min_size=1, max_size=40)
# Text a file can hold: no lone surrogates (tests/test_fuzz.py checks those are refused cleanly).
valid_text = st.text(
    alphabet=st.sampled_from(list(NASTY)) | st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
)

# A path cannot hold NUL (validation says so: tests/test_fuzz.py).
path_text = valid_text.filter(lambda s: "\x00" not in s)


@given(value=text)
def test_to_yaml_round_trips_any_string(value: str) -> None:
    assert yaml.safe_load(f"k: {to_yaml(value)}\n") == {"k": value}


@given(value=st.floats(allow_nan=False) | st.integers() | st.booleans() | st.none())
def test_to_yaml_round_trips_scalars(value: object) -> None:
    back = yaml.safe_load(f"k: {to_yaml(value)}\n")["k"]
    assert back == value and type(back) is type(value)


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | text,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
        max_leaves=8,
    )
)
def test_to_yaml_round_trips_nested(value: object) -> None:
    assert yaml.safe_load(f"k: {to_yaml(value)}\n") == {"k": value}


def test_a_trailing_newline_is_quoted() -> None:
    # `$` matched before the final newline, so "org/\n" was written plain and read back as "org/"
    assert to_yaml("org/\n") == '"org/\\n"'
    assert yaml.safe_load("k: " + to_yaml("org/\n") + "\n") == {"k": "org/\n"}


def test_the_classic_injection() -> None:
    assert yaml.safe_load("base_model: " + to_yaml("x\nlearning_rate: 1") + "\n") == {
        "base_model": "x\nlearning_rate: 1"
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=path_text, column=valid_text, prompt=valid_text, system=valid_text, out_dir=path_text)
def test_spec_strings_never_change_the_key_set(
    workdir: Path, model: str, column: str, prompt: str, system: str, out_dir: str
) -> None:
    baseline = render_spec(load_spec("examples/sql.yaml")).config
    spec = yaml.safe_load(Path("examples/sql.yaml").read_text())
    spec["base_model"] = "org/" + model
    spec["datasets"][0]["fields"] = {"instruction": column, "input": column + "2", "output": column + "3"}
    # validate reads the rows (issue 7): give it one with the fuzzed column names
    spec["datasets"][0]["path"] = "data/fuzz.jsonl"
    Path("examples/data/fuzz.jsonl").write_text(
        json.dumps({column: "q", column + "2": "c", column + "3": "a"}) + "\n", encoding="utf-8"
    )
    spec["datasets"][0]["prompt"] = "{instruction}" + prompt
    spec["datasets"][0]["system_prompt"] = system
    spec["output_dir"] = out_dir
    # written with axowrap's own emitter: specs are YAML 1.2 (PyYAML's dumper leaves `0E0` unquoted)
    Path("examples/fuzz.yaml").write_text("".join(f"{k}: {to_yaml(v)}\n" for k, v in spec.items()), encoding="utf-8")
    cfg = render_spec(load_spec("examples/fuzz.yaml")).config
    assert set(cfg) == set(baseline)
    assert cfg["base_model"] == "org/" + model
    assert cfg["output_dir"] == out_dir
    ds = cfg["datasets"][0]["type"]
    assert set(ds) == {"field_instruction", "field_input", "field_output", "system_prompt", "format", "no_input_format"}
    assert (ds["field_instruction"], ds["format"], ds["system_prompt"]) == (column, "{instruction}" + prompt, system)
