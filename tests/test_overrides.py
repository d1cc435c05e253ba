"""`--set KEY=VALUE` through validate, render (and --explain), run --dry-run, plan and lock:
values as YAML 1.2, checked like a spec file, located at the --set, recorded in the manifest,
and a run directory of their own when they change what is trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write
from helpers import run_cli

from axowrap.errors import UsageError, ValidationFailed
from axowrap.spec.overrides import parse_overrides
from axowrap.spec.read import read_spec

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_values_are_yaml_and_land_on_their_key_path(workdir: Path) -> None:
    spec = read_spec(
        "examples/sql.yaml",
        parse_overrides(
            [
                "training.learning_rate=1e-4",  # YAML 1.2: a number, not the string PyYAML 1.1 reads
                "datasets[0].format=alpaca",
                "export.gguf=[q8_0, f16]",
                "compute.target=h100-80gb:8",  # the --target form: also the GPU count
                "lora={r: 4}",  # mappings merge, as between spec files
            ]
        ),
    )
    assert spec.data["training"]["learning_rate"] == 1e-4
    assert spec.data["export"]["gguf"] == ["q8_0", "f16"]
    assert (spec.data["compute"]["target"], spec.data["compute"]["gpus_per_node"]) == ("h100-80gb", 8)
    assert spec.data["lora"]["r"] == 4 and spec.data["lora"]["dropout"] == 0.05  # the preset's, kept
    assert spec.source_of(("training", "learning_rate")) == "--set training.learning_rate=1e-4"
    assert spec.source_of(("datasets", 0, "format")) == "--set datasets[0].format=alpaca"
    assert spec.source_of(("datasets", 0, "path")) == "examples/sql.yaml"  # the rest of the entry: the file


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            "training.learning_rat=1e-4",
            "--set training.learning_rat=1e-4: error: training.learning_rat: unknown key 'learning_rat'; "
            "did you mean 'learning_rate'?",
        ),
        (
            "training.learning_rate=fast",
            "--set training.learning_rate=fast: error: training.learning_rate: expected number, got string 'fast'",
        ),
        (
            "method=lorra",
            '--set method=lorra: error: method: \'lorra\' is not allowed; expected one of "lora", "qlora", '
            '"dora", "full"\n    hint: did you mean \'lora\'?',
        ),
        (
            "datasets[2].format=alpaca",
            "--set datasets[2].format=alpaca: error: datasets[2]: datasets has 1 entry, so [2] does not exist\n"
            "    hint: a --set can change a list entry, not add one: set the whole list instead",
        ),
        (
            "axolotl.lora_rr=8",
            "--set axolotl.lora_rr=8: error: axolotl.lora_rr: unknown Axolotl key 'lora_rr'; did you mean "
            "'lora_r'? (Axolotl would silently ignore it)",
        ),
    ],
)
def test_a_bad_override_is_reported_at_the_set_that_made_it(workdir: Path, given: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        read_spec("examples/sql.yaml", parse_overrides([given]))
    assert [p.render() for p in caught.value.problems] == [message]


def test_what_cannot_be_read_is_a_usage_error() -> None:
    for given, start in (
        ("training.learning_rate", "--set 'training.learning_rate': expected KEY=VALUE"),
        ("training..x=1", "bad key 'training..x'"),
        ("x=[1", "--set 'x=[1': the value is not YAML"),
        ("compute.target=a10g-24gb:0", "--set 'compute.target=a10g-24gb:0': the GPU count"),
    ):
        with pytest.raises(UsageError) as caught:
            parse_overrides([given])
        assert caught.value.message.startswith(start), caught.value.message


def test_validate_and_render_take_set(workdir: Path) -> None:
    res = run_cli("validate", "examples/sql.yaml", "--set", "training.learning_rat=1e-4")
    assert res.code == 1
    assert res.out == (
        "--set training.learning_rat=1e-4: error: training.learning_rat: unknown key 'learning_rat'; "
        "did you mean 'learning_rate'?\n"
    )
    assert res.err == "error: 1 error(s) in 1 of 1 file(s)\n"
    assert run_cli("validate", "examples/sql.yaml", "--set", "training.learning_rate=1e-4").code == 0
    res = run_cli("render", "examples/sql.yaml", "--set", "training.learning_rate=1e-4", "--set", "lora.r=8")
    assert res.code == 0
    config = yaml.safe_load(res.out)
    assert (config["learning_rate"], config["lora_r"], config["lora_alpha"]) == (1e-4, 8, 16)
    # the header says how it was made
    assert '# with --set "training.learning_rate=1e-4" --set "lora.r=8"\n' in res.out
    res = run_cli("render", "examples/sql.yaml", "--set", "lora.r=8", "--explain", "lora_r")
    assert res.out == (
        "lora_r: 8\n"
        "  from spec key lora.r\n"
        "  set by: the command line (--set lora.r=8)\n"
        "  overrides: preset default (every task) = 16\n"
    )
    res = run_cli("validate", "examples/mistakes/hand-written.axolotl.yaml", "--set", "lora_r=8")
    assert res.code == 2 and "--set applies to specs" in res.err


def test_plan_takes_set(workdir: Path) -> None:
    base = json.loads(run_cli("plan", "examples/sql.yaml", "--no-data", "--json").out)["plans"][0]
    more = json.loads(
        run_cli("plan", "examples/sql.yaml", "--no-data", "--json", "--set", "training.micro_batch_size=16").out
    )["plans"][0]
    assert more["setup"]["micro_batch"] == 16 and more["total_gb"] > base["total_gb"]


def _dry_run(*extra: str) -> dict:
    res = run_cli("run", "examples/sql.yaml", "--dry-run", "--json", "--steps", "train", *extra)
    assert res.code == 0, res.err
    events = [json.loads(line) for line in res.out.splitlines()]
    return events[-1]


def test_run_gets_its_own_directory_only_when_training_changes(workdir: Path) -> None:
    plain = _dry_run()["run"]
    lr = _dry_run("--set", "training.learning_rate=1e-4")["run"]
    manifest = json.loads((Path(lr) / "manifest.json").read_text())
    assert manifest["spec"]["overrides"] == [{"key": "training.learning_rate", "value": 0.0001}]
    assert manifest["spec"]["effective"]["training"]["learning_rate"] == 1e-4
    assert yaml.safe_load((Path(lr) / "axolotl.yaml").read_text())["learning_rate"] == 1e-4
    lr_again = _dry_run("--set", "training.learning_rate=1e-4")["run"]
    neutral = _dry_run("--set", "export.gguf=[q8_0]", "--set", "training.logging_steps=5")["run"]
    mixed = _dry_run("--set", "training.learning_rate=1e-4", "--set", "export.gguf=[q8_0]")["run"]
    assert lr != plain and lr == lr_again  # the same overrides find the same directory (resume)
    assert neutral == plain  # nothing trained differently: the spec's own run directory
    assert mixed == lr  # only what changes training names the directory
    res = run_cli("run", "examples/sql.yaml", "--dry-run", "--set", "training.learning_rate=high")
    assert (
        res.code == 1 and "--set training.learning_rate=high: error: training.learning_rate: expected number" in res.err
    )


def test_runs_dir_from_the_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXOWRAP_RUNS_DIR", str(workdir / "elsewhere"))
    assert _dry_run()["run"].startswith(str(workdir / "elsewhere") + "/")
    assert "AXOWRAP_RUNS_DIR" in run_cli("run", "--help").out


@pytest.fixture
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec on a Hub model pinned by commit (no Hub needed to lock it), with two data files."""
    write(tmp_path / "specs" / "data" / "a.jsonl", '{"instruction": "q", "output": "a"}\n')
    write(tmp_path / "specs" / "data" / "b.jsonl", '{"instruction": "q2", "output": "a2"}\n')
    write(
        tmp_path / "specs" / "s.yaml",
        f"task: instruct\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\nrevision: {COMMIT}\n"
        "datasets: [{path: data/a.jsonl}]\ncompute: {target: cpu}\n",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_lock_and_lock_check_take_set(pinned: Path) -> None:
    res = run_cli("lock", "specs/s.yaml", "--set", "datasets[0].path=data/b.jsonl", "--json")
    assert res.code == 0, res.err
    assert list(json.loads(res.out)["specs"]["specs/s.yaml"]["datasets"]) == ["specs/data/b.jsonl"]
    res = run_cli("lock", "--check", "specs/s.yaml", "--set", "datasets[0].path=data/b.jsonl")
    assert (res.code, res.out) == (0, "no drift\n")
    res = run_cli("lock", "--check", "specs/s.yaml", "--json")  # without the --set: the spec's own data
    assert res.code == 1
    assert json.loads(res.out) == {
        "ok": False,
        "drift": [
            "specs/s.yaml: dataset specs/data/a.jsonl: not in the lock",
            "specs/s.yaml: dataset specs/data/b.jsonl: locked, but the spec no longer uses it",
        ],
    }
    res = run_cli("lock", "specs/s.yaml", "--set", "datasets[0].pth=data/b.jsonl")
    assert res.code == 1 and "--set datasets[0].pth=data/b.jsonl: error: datasets[0].pth: unknown key 'pth'" in res.err


def test_launch_carries_the_overrides_into_the_job_quoted(workdir: Path) -> None:
    import re
    import subprocess

    hostile = "datasets[0].system_prompt=it's $HOME; rm -rf / `id`"
    args = ["--set", "training.learning_rate=1e-4", "--set", hostile]
    slurm = run_cli("launch", "slurm", "examples/sql.yaml", "-o", "-", *args).out
    sky = yaml.safe_load(run_cli("launch", "skypilot", "examples/sql.yaml", "-o", "-", *args).out)["run"]
    for script in (slurm, sky):
        words = re.search(r'_prepare "\$\w+" --runs-dir "\$\w+"(.*)\)"$', script, re.M)
        assert words is not None
        shown = subprocess.run(["bash", "-c", f"printf '%s\\n'{words.group(1)}"], capture_output=True, text=True)
        assert shown.stdout.splitlines() == ["--set", "training.learning_rate=1e-4", "--set", hostile]
    # what the nodes run: `axowrap _prepare` with the same overrides prepares the same run directory
    res = run_cli("_prepare", "examples/sql.yaml", "--set", "training.learning_rate=1e-4")
    assert res.code == 0, res.err
    assert res.out.strip() == _dry_run("--set", "training.learning_rate=1e-4")["run"]
    manifest = json.loads((Path(res.out.strip()) / "manifest.json").read_text())
    assert manifest["spec"]["overrides"] == [{"key": "training.learning_rate", "value": 0.0001}]
    res = run_cli("launch", "slurm", "examples/sql.yaml", "-o", "-", "--set", "datasets[0].system_prompt=a\nb")
    assert res.code == 2 and "a job file cannot carry a control character" in res.err
