"""The command line as a user meets it: new, tasks, render, validate --json, exit codes, speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, write
from helpers import run_cli


def test_tasks_lists_every_preset() -> None:
    res = run_cli("tasks")
    assert res.code == 0
    names = [line.split()[0] for line in res.out.splitlines()]
    assert names == sorted(names) and "sql" in names and "function-calling" in names and len(names) == 14


def test_new_refuses_to_overwrite_without_force(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "sql.yaml", "keep me\n")
    res = run_cli("new", "--task", "sql", "-o", "sql.yaml")
    assert res.code == 2
    assert res.err == "error: sql.yaml already exists\n  hint: pass --force to overwrite it\n"
    assert (tmp_path / "sql.yaml").read_text() == "keep me\n"
    res = run_cli("new", "--task", "sql", "-o", "sql.yaml", "--force", "--model", "./m", "--method", "dora")
    assert res.code == 0
    text = (tmp_path / "sql.yaml").read_text()
    assert "base_model: ./m" in text and "method: dora" in text


def test_new_unknown_task_suggests() -> None:
    res = run_cli("new", "--task", "sqll", "-o", "-")
    assert res.code == 2
    assert res.err.startswith("error: unknown task 'sqll'; did you mean 'sql'?\n")


def test_render_never_clobbers_on_error(workdir: Path) -> None:
    write(workdir / "out.yaml", "previous\n")
    write(
        workdir / "examples" / "bad.yaml",
        (workdir / "examples" / "sql.yaml").read_text().replace("method: lora", "method: lorra"),
    )
    res = run_cli("render", "examples/bad.yaml", "-o", "out.yaml")
    assert res.code == 1
    assert "examples/bad.yaml" in res.err and "'lorra' is not allowed" in res.err
    assert (workdir / "out.yaml").read_text() == "previous\n"
    res = run_cli("render", "examples/sql.yaml", "-o", "out.yaml", "--target", "cpu")
    assert res.code == 0
    assert "lora_mlp_kernel: false" in (workdir / "out.yaml").read_text()


def test_validate_json(workdir: Path) -> None:
    write(
        workdir / "examples" / "bad.yaml",
        (workdir / "examples" / "sql.yaml").read_text().replace("method: lora", "method: lorra"),
    )
    res = run_cli("validate", "--json", "examples/sql.yaml", "examples/bad.yaml")
    assert res.code == 1
    report = json.loads(res.out)
    assert report["ok"] is False
    assert [f["ok"] for f in report["files"]] == [True, False]
    (problem,) = report["files"][1]["problems"]
    assert problem == {
        "file": "examples/bad.yaml",
        "line": 5,
        "column": 1,
        "path": "method",
        "severity": "error",
        "message": '\'lorra\' is not allowed; expected one of "lora", "qlora", "dora", "full"',
        "hint": "did you mean 'lora'?",
    }


def test_fast_commands_import_no_heavy_modules(workdir: Path) -> None:
    code = (
        "import sys; from axowrap.cli.main import main; "
        "rc = main(['validate', 'examples/sql.yaml']); rc |= main(['render', 'examples/sql.yaml', '-o', 'x.yaml']); "
        "heavy = [m for m in ('torch', 'transformers', 'axolotl', 'lm_eval', 'huggingface_hub', 'rich') if m in sys.modules]; "
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []"


def test_unexpected_errors_are_one_line_and_logged(workdir: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))
    import axowrap.validate as v

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(v, "validate_path", boom)
    res = run_cli("validate", "examples/sql.yaml")
    assert res.code == 3
    assert res.err.startswith("error: unexpected RuntimeError: kaboom; details in ")
    assert "Traceback" not in res.err
    assert "kaboom" in (workdir / "cache" / "axowrap" / "axowrap.log").read_text()


def test_module_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "axowrap", "--version"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "axowrap, version 0.1.0"


def test_readme_spec_reference_is_up_to_date() -> None:
    out = subprocess.run([sys.executable, "-m", "axowrap.spec.doc", "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_usage_errors_have_one_format() -> None:
    # click's usage errors ("No such option") and axowrap's (UsageError) print alike, exit 2
    res = run_cli("validate", "--nope")
    assert res.code == 2
    first, hint = res.err.splitlines()
    assert first.startswith("error: No such option") and "--nope" in first  # click's wording varies by version
    assert hint == "  hint: see `axowrap validate --help`"
    res = run_cli("render")
    assert res.code == 2 and res.err.startswith("error: give one SPEC, or --all\n")
