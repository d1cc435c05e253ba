"""The fuzz suite: every command that reads a file, on generated and on malformed input, keeps
the invariant of tests/fuzzkit.py: exit code in {0, 1, 2, 130}, no traceback, no hang.

Bounded for CI (examples per strategy and a per-call alarm); bench/fuzz.py runs the same
strategies for >= 20,000 calls. Takes about a minute on 2 idle cores.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import fuzzkit as fk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def check(*argv: str, cwd: Path) -> fk.Verdict:
    verdict = fk.call(*argv, cwd=cwd)
    assert verdict.ok, verdict.describe()
    return verdict


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of examples/ to fuzz in (module-wide: hypothesis reruns the test body)."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(fk.EXAMPLES, root / "examples")
    yield root / "examples"


@pytest.fixture(autouse=True)
def _log_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


# ------------------------------------------------------------------ generated input


@FUZZ
@given(data=fk.spec_values(), how=st.integers(0, 2))
def test_generated_specs(folder: Path, data: object, how: int) -> None:
    spec = fk.write_text(folder / "fuzz.yaml", fk.dump(data, how))
    for template in fk.SPEC_COMMANDS:
        check(*fk.argv(template, str(spec)), cwd=folder)


@FUZZ
@given(config=fk.config_values(), how=st.integers(0, 2))
def test_generated_axolotl_configs(folder: Path, config: object, how: int) -> None:
    path = fk.write_text(folder / "fuzz.axolotl.yaml", fk.dump(config, how))
    check("validate", str(path), cwd=folder)
    check("diff", str(path), "sql.yaml", cwd=folder)


@FUZZ
@given(file=fk.row_files(), fmt=st.sampled_from(["alpaca", "messages", "sharegpt", "preference", "text"]))
def test_generated_data_rows(folder: Path, file: tuple[str, bytes], fmt: str) -> None:
    suffix, data = file
    rows = folder / "data" / f"fuzz{suffix}"
    rows.write_bytes(data)
    check("data", "check", str(rows), "--no-tokens", cwd=folder)
    check("data", "check", str(rows), "--no-tokens", "--format", fmt, cwd=folder)
    spec = fk.write_text(folder / "rows.yaml", fk.SPEC_HEAD.replace("data/sql.jsonl", f"data/fuzz{suffix}"))
    for template in (("validate", "{f}"), ("data", "check", "{f}", "--no-tokens"), ("run", "{f}", "--dry-run")):
        check(*fk.argv(template, str(spec)), cwd=folder)


@pytest.fixture(scope="module")
def prepared(folder: Path) -> tuple[Path, Path, dict[str, str]]:
    """(run directory, its pristine copy, the text of its files) of examples/sql.yaml."""
    verdict = fk.call("run", "sql.yaml", "--dry-run", cwd=folder)
    assert verdict.code == 0, verdict.describe()
    run = next((folder / "runs").iterdir())
    state = {"version": 1, "steps": {"train": {"status": "running", "fingerprint": "x", "outputs": [], "pid": 1}}}
    (run / "state.json").write_text(json.dumps(state))
    pristine = folder / "pristine-run"
    shutil.copytree(run, pristine)
    return run, pristine, {n: (run / n).read_text() for n in fk.RUNDIR_FILES}


@FUZZ
@given(data=st.data())
def test_damaged_run_directory_files(
    folder: Path, prepared: tuple[Path, Path, dict[str, str]], data: st.DataObject
) -> None:
    run, pristine, originals = prepared
    name, damaged = data.draw(fk.rundir_files(originals))
    shutil.rmtree(run)
    shutil.copytree(pristine, run)
    (run / name).write_bytes(damaged)
    for template in fk.RUN_COMMANDS:
        check(*fk.argv(template, str(run)), cwd=folder)


def test_a_step_record_without_a_status_is_shown_not_a_crash(
    folder: Path, prepared: tuple[Path, Path, dict[str, str]]
) -> None:
    """bench/fuzz: `status` exited 3 (KeyError 'status') on a state.json step entry without one."""
    run, pristine, _ = prepared
    shutil.rmtree(run)
    shutil.copytree(pristine, run)
    (run / "state.json").write_text('{"steps": {"train": {"fingerprint": null}}}', encoding="utf-8")
    for template in fk.RUN_COMMANDS:
        check(*fk.argv(template, str(run)), cwd=folder)


# ------------------------------------------------------------------ the corpus of malformed files


@pytest.fixture(scope="module")
def corpus(folder: Path) -> Path:
    for name, data in fk.malformed_specs().items():
        (folder / f"{name}.yaml").write_bytes(data)
    fk.make_fifo(folder / "fifo.yaml")
    fk.make_symlink_loop(folder / "loop")
    fk.write_text(folder / "loop-model.yaml", "task: sql\nbase_model: ./loop\ndatasets: [{path: data/sql.jsonl}]\n")
    for name, data in fk.malformed_data().items():
        (folder / "data" / name).write_bytes(data)
    return folder


SPEC_CASES = [f"{name}.yaml" for name in fk.malformed_specs()] + [
    "fifo.yaml",
    "loop",
    "loop-model.yaml",
    "missing.yaml",
    "data",
]


@pytest.mark.parametrize("name", SPEC_CASES)
def test_malformed_spec_files(corpus: Path, name: str) -> None:
    for template in fk.FILE_COMMANDS:
        check(*fk.argv(template, name), cwd=corpus)


@pytest.mark.parametrize("name", sorted(fk.malformed_data()))
def test_malformed_data_files(corpus: Path, name: str) -> None:
    rows = f"data/{name}"
    check("data", "check", rows, "--no-tokens", cwd=corpus)
    check("data", "check", rows, "--no-tokens", "--format", "alpaca", cwd=corpus)
    check("data", "check", rows, "--format", "messages", cwd=corpus)
    fields = "fields: {instruction: question, input: context, output: answer}"
    spec = fk.write_text(
        corpus / "rows.yaml", f"task: sql\nbase_model: org/m\ndatasets: [{{path: {rows}, {fields}}}]\n"
    )
    for template in (("validate", "{f}"), ("plan", "{f}"), ("run", "{f}", "--dry-run"), ("lock", "{f}")):
        check(*fk.argv(template, str(spec)), cwd=corpus)


# ------------------------------------------------------------------ the bounds say what they are


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("alias-bomb", "YAML too large: more than 100,000 values once its aliases (*name) are expanded"),
        ("deep-flow", "YAML too large: nested deeper than 64 levels"),
        ("big-int", "integer of 5,000 digits is too large"),
        ("inf", "1e400 is not a finite number"),
        ("nan", ".nan is not a finite number"),
        ("control-char", "character U+0001 is not allowed in YAML"),
        ("lone-surrogate-value", "holds a lone surrogate"),
        ("long-base-model", "cannot name a file or a repo: a name in it is longer than the 255 bytes"),
        ("root-base-model", "'/' is not a model folder: / has no config.json"),
        ("huge-string", "bytes; a file may have at most 262,144"),
    ],
)
def test_bounds_are_clear_errors(corpus: Path, name: str, message: str) -> None:
    verdict = check("validate", f"{name}.yaml", cwd=corpus)
    assert verdict.code == 1 and message in verdict.out + verdict.err, verdict.describe()


def test_a_fifo_is_refused_at_once(corpus: Path) -> None:
    verdict = check("validate", "fifo.yaml", cwd=corpus)
    assert verdict.seconds < 5 and "is a FIFO (named pipe), not a regular file" in verdict.out + verdict.err


def test_key_names_cannot_drive_the_terminal_or_a_ci_log(corpus: Path) -> None:
    for name in ("escape-in-key", "ci-command-key", "lone-surrogate-key"):
        verdict = check("validate", f"{name}.yaml", cwd=corpus)
        shown = verdict.out + verdict.err
        assert "\x1b" not in shown and "\x07" not in shown
        assert not any(line.startswith("::") for line in shown.splitlines()), shown
    assert "\\x1b[31m" in check("validate", "escape-in-key.yaml", cwd=corpus).out  # shown, escaped


def test_nan_is_never_rendered(corpus: Path) -> None:
    verdict = check("render", "nan.yaml", cwd=corpus)
    assert verdict.code == 1 and ".nan" not in verdict.out


def test_an_unclosed_json_array_fails_validate_not_run(corpus: Path) -> None:
    """It passed validate and then crashed `run`."""
    spec = fk.write_text(corpus / "unclosed.yaml", fk.SPEC_HEAD.replace("data/sql.jsonl", "data/array-no-close.json"))
    verdict = check("validate", str(spec), cwd=corpus)
    assert verdict.code == 1 and "the array is not closed" in verdict.out, verdict.describe()
