"""Every kind of mistake gets one whole, exact message: file, line, key path, what, fix."""

from __future__ import annotations

from pathlib import Path

from conftest import write
from helpers import run_cli

GOOD = "task: sql\nbase_model: org/model\ndatasets:\n  - path: examples/data/sql.jsonl\n"


def errors_of(path: Path) -> str:
    """Validate `path` as a user would type it (relative to the current folder)."""
    res = run_cli("validate", str(path.relative_to(Path.cwd())))
    assert res.code == 1
    return res.out


def test_unknown_key_with_did_you_mean(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", GOOD + "training:\n  learning_rat: 1e-4\n")
    assert errors_of(spec) == (
        "s.yaml:6:3: error: training.learning_rat: unknown key 'learning_rat'; did you mean 'learning_rate'?\n"
    )


def test_wrong_type(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", GOOD + "training:\n  epochs: three\n")
    assert errors_of(spec) == "s.yaml:6:3: error: training.epochs: expected integer, got string 'three'\n"


def test_bad_enum(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", GOOD + "method: lorra\n")
    assert errors_of(spec) == (
        's.yaml:5:1: error: method: \'lorra\' is not allowed; expected one of "lora", "qlora", "dora", "full"\n'
        "    hint: did you mean 'lora'?\n"
    )


def test_missing_required(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", "task: sql\ndatasets:\n  - path: examples/data/sql.jsonl\n")
    assert errors_of(spec) == "s.yaml:1:1: error: (top level): missing required key 'base_model'\n"


def test_yaml_syntax_error_has_line_and_column(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", "task: sql\nbase_model: [org/model\n")
    assert errors_of(spec) == (
        "s.yaml:3:1: error: (top level): YAML syntax error: expected ',' or ']', but got '<stream end>'\n"
        "    hint: check indentation and quoting there (quote values containing ': ' or ' #')\n"
    )


def test_missing_dataset_file(workdir: Path) -> None:
    spec = write(workdir / "specs" / "s.yaml", GOOD.replace("examples/data/sql.jsonl", "data/nope.jsonl"))
    assert errors_of(spec) == (
        "specs/s.yaml:4:5: error: datasets[0].path: dataset file 'data/nope.jsonl' not found "
        "(looked for specs/data/nope.jsonl)\n"
        "    hint: paths are relative to the spec file; a Hub dataset id looks like `owner/name`\n"
    )


def test_extends_cycle(workdir: Path) -> None:
    write(workdir / "a.yaml", "extends: b.yaml\n" + GOOD)
    write(workdir / "b.yaml", "extends: a.yaml\n")
    assert errors_of(workdir / "a.yaml") == (
        "b.yaml:1:1: error: extends: extends cycle: a.yaml -> b.yaml -> a.yaml\n"
        "    hint: remove one of the `extends` links\n"
    )


def test_extends_missing_base(workdir: Path) -> None:
    spec = write(workdir / "a.yaml", "extends: team.yaml\n" + GOOD)
    assert errors_of(spec).startswith("a.yaml:1:1: error: extends: base spec 'team.yaml' not found (looked for ")


def test_error_in_base_spec_is_located_in_the_base(workdir: Path) -> None:
    write(workdir / "team.yaml", "training:\n  epochz: 2\n")
    spec = write(workdir / "a.yaml", "extends: team.yaml\n" + GOOD)
    assert errors_of(spec) == "team.yaml:2:3: error: training.epochz: unknown key 'epochz'; did you mean 'epochs'?\n"


def test_hand_written_axolotl_config_with_typos(workdir: Path) -> None:
    cfg = write(
        workdir / "cfg.yaml",
        "base_model: org/model\nlora_rr: 8\nlearning_rate: 2e-5\nmicro_batch_size: 1\n"
        "datasets:\n  - path: a.jsonl\n    typ: alpaca\n",
    )
    # `learning_rate: 2e-5` is text to YAML 1.1, and Axolotl converts it (convert_learning_rate): no error
    assert errors_of(cfg) == (
        "cfg.yaml:7:5: error: datasets[0].typ: unknown dataset key 'typ'; did you mean 'type'? "
        "(Axolotl would silently ignore it)\n"
        "cfg.yaml:2:1: error: lora_rr: unknown Axolotl key 'lora_rr'; did you mean 'lora_r'? "
        "(Axolotl would silently ignore it)\n"
    )


def test_axolotl_escape_hatch_is_checked_in_the_spec(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", GOOD + "axolotl:\n  lora_rr: 8\n  lora_dropout: high\n")
    assert errors_of(spec) == (
        "s.yaml:7:3: error: axolotl.lora_dropout: expected number or null, got string 'high'\n"
        "s.yaml:6:3: error: axolotl.lora_rr: unknown Axolotl key 'lora_rr'; did you mean 'lora_r'? "
        "(Axolotl would silently ignore it)\n"
    )


def test_duplicate_key(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", GOOD + "method: lora\nmethod: full\n")
    assert errors_of(spec) == (
        "s.yaml:6:1: error: method: duplicate key (first defined on line 5 with 'lora'; this later 'full' wins); "
        "YAML silently keeps only the last one\n"
        "    hint: remove one of the two\n"
    )


def test_semantic_rules(workdir: Path) -> None:
    spec = write(
        workdir / "s.yaml",
        GOOD + "method: qlora\ncompute: {target: cpu}\nexport: {merge: false, gguf: [q8_0]}\n",
    )
    assert errors_of(spec) == (
        "s.yaml:7:24: error: export.gguf: GGUF files are made from the merged model, but `export.merge` is false\n"
        "    hint: set `export.merge: true` or remove `export.gguf`\n"
        "s.yaml:5:1: error: method: qlora loads the base in 4 bit with bitsandbytes, which needs a CUDA GPU; "
        "target is 'cpu'\n"
        "    hint: use `method: lora` on CPU\n"
    )


def test_all_files_reported_and_summary(workdir: Path) -> None:
    bad = write(workdir / "bad.yaml", GOOD + "method: lorra\n")
    res = run_cli("validate", "examples/sql.yaml", str(bad), "missing.yaml")
    assert res.code == 1
    assert "ok examples/sql.yaml (spec, target a10g-24gb x1)" in res.out
    assert "missing.yaml: error: (top level): file not found\n    hint: check the path\n" in res.out
    assert res.err == "error: 2 error(s) in 2 of 3 file(s)\n"


def test_not_a_mapping(workdir: Path) -> None:
    spec = write(workdir / "s.yaml", "- a\n- b\n")
    assert errors_of(spec) == "s.yaml:1:1: error: (top level): a spec must be a mapping of keys to values, not a list\n"


def test_unknown_target_is_a_usage_error(workdir: Path) -> None:
    res = run_cli("validate", "--target", "h100:8", "examples/sql.yaml")
    assert res.code == 2
    assert res.err.startswith("error: unknown target 'h100'; did you mean 'h100-80gb'?\n  hint: known targets: cpu,")


def test_schema_patterns_end_at_the_end_of_the_text(workdir: Path) -> None:
    # JSON Schema's `$` is the end of the text; Python's also matched before a final newline
    spec = workdir / "examples" / "sql.yaml"
    spec.write_text(spec.read_text().replace("task: sql\n", 'task: sql\nname: "sql\\n"\n'), encoding="utf-8")
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert "name: 'sql\\n' does not match the expected form" in res.out
