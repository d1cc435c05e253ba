"""The conventions a command line is expected to keep: NO_COLOR and --color/--no-color (seen
through a real pseudo-terminal), plain tables in a pipe, --quiet, environment variables listed
in --help, one --json envelope (also for failures), `-o -` as stdout, and completion scripts
sourced in a real bash and zsh."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, unless_ci, write
from helpers import run_cli

AXOWRAP = [sys.executable, "-m", "axowrap"]
ESC = b"\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def on_a_terminal(args: list[str], cwd: Path, **env: str) -> bytes:
    """What `axowrap ARGS` writes (stdout and stderr) when both are a terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*AXOWRAP, *args], stdout=follower, stderr=follower, cwd=cwd, env=_env(**env))
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output from {args} in 60 s")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=60) is not None
    return out


@pytest.fixture
def bad_spec(workdir: Path) -> Path:
    text = (workdir / "examples" / "sql.yaml").read_text().replace("method: lora", "method: lorra")
    return write(workdir / "examples" / "bad.yaml", text)


def test_no_color_means_no_escape_sequences_on_a_terminal(workdir: Path, bad_spec: Path) -> None:
    coloured = on_a_terminal(["validate", "examples/bad.yaml", "examples/sql.yaml"], workdir)
    assert ESC in coloured and b"error:" in coloured  # the control: a terminal gets colour
    for plain in (
        on_a_terminal(["validate", "examples/bad.yaml", "examples/sql.yaml"], workdir, NO_COLOR="1"),
        on_a_terminal(["--no-color", "validate", "examples/bad.yaml", "examples/sql.yaml"], workdir),
        on_a_terminal(["validate", "examples/bad.yaml", "examples/sql.yaml", "--no-color"], workdir),
    ):
        assert b"error: 1 error(s) in 1 of 2 file(s)" in plain and b"ok examples/sql.yaml" in plain
        assert ESC not in plain, plain
    for table_command in (["plan", "examples/sql.yaml", "--no-data"], ["tasks"]):
        assert ESC not in on_a_terminal(table_command, workdir, NO_COLOR="1")


def test_color_can_be_forced_into_a_pipe(workdir: Path, bad_spec: Path) -> None:
    piped = subprocess.run([*AXOWRAP, "validate", "examples/bad.yaml"], capture_output=True, cwd=workdir, env=_env())
    assert ESC not in piped.stdout + piped.stderr
    forced = subprocess.run(
        [*AXOWRAP, "--color", "validate", "examples/bad.yaml"], capture_output=True, cwd=workdir, env=_env()
    )
    assert ESC in forced.stderr


def test_tables_are_plain_in_a_pipe(workdir: Path) -> None:
    piped = subprocess.run(
        [*AXOWRAP, "plan", "examples/sql.yaml", "--no-data"], capture_output=True, text=True, cwd=workdir, env=_env()
    )
    assert piped.returncode == 0, piped.stderr
    assert "component" in piped.stdout and "total" in piped.stdout
    assert not set("┏┃━│─┡┗╇") & set(piped.stdout)  # no box drawing: columns a script can split
    boxed = on_a_terminal(["plan", "examples/sql.yaml", "--no-data"], workdir).decode()
    assert set("━│") & set(boxed)


def test_quiet_prints_only_results_and_errors(workdir: Path) -> None:
    res = run_cli("render", "examples/sql.yaml", "-o", "out.yaml")
    assert res.err == "wrote out.yaml\n"
    res = run_cli("--quiet", "render", "examples/sql.yaml", "-o", "out.yaml")
    assert (res.code, res.out, res.err) == (0, "", "")
    res = run_cli("run", "examples/sql.yaml", "--dry-run", "--steps", "train", "-q")
    assert res.code == 0 and "==>" not in res.out and "would run" not in res.out
    assert res.out.startswith("run directory: ") or res.err.startswith("run directory: ")
    res = run_cli("-q", "validate", "examples/nope.yaml")
    assert res.code == 1 and "error:" in res.err + res.out


def test_environment_variables_are_read_and_listed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXOWRAP_TARGET", "cpu")
    res = run_cli("validate", "examples/sql.yaml")
    assert res.out == "ok examples/sql.yaml (spec, target cpu x1)\n"
    monkeypatch.setenv("AXOWRAP_VALIDATE_JSON", "1")  # any option: AXOWRAP_<COMMAND>_<OPTION>
    assert json.loads(run_cli("validate", "examples/sql.yaml").out)["ok"] is True
    monkeypatch.delenv("AXOWRAP_VALIDATE_JSON")
    monkeypatch.setenv("AXOWRAP_QUIET", "1")
    assert run_cli("render", "examples/sql.yaml", "-o", "x.yaml").err == ""
    monkeypatch.setenv("AXOWRAP_VERSION", "1")  # a variable some build sets: it must not act as --version
    assert run_cli("tasks").out.startswith("chat ")
    helped = " ".join(run_cli("validate", "--help").out.split())  # help text wraps where it likes
    assert "env var: AXOWRAP_TARGET" in helped and "env var: AXOWRAP_VALIDATE_JSON" in helped
    assert "AXOWRAP_RUNS_DIR" in run_cli("--help").out and "NO_COLOR" in run_cli("--help").out


def test_json_envelope_on_every_command_that_prints_a_result(workdir: Path) -> None:
    tasks = json.loads(run_cli("tasks", "--json").out)
    assert tasks["ok"] is True and "sql" in [t["name"] for t in tasks["tasks"]]
    new = json.loads(run_cli("new", "--task", "sql", "-o", "specs/sql.yaml", "--json").out)
    assert new == {"ok": True, "spec": "specs/sql.yaml", "data": "specs/data/sql.jsonl", "extends": None}
    init = json.loads(run_cli("init", "team", "--json").out)
    assert init["ok"] is True and "team/team.yaml" in init["written"]
    os.chdir("team")
    check = json.loads(run_cli("render", "--all", "--check", "--json").out)
    assert check["ok"] is True and check["specs"][0]["status"] == "up to date"
    os.chdir(workdir)
    job = json.loads(run_cli("launch", "slurm", "examples/sql.yaml", "-o", "job.sbatch", "--json").out)
    assert job == {"ok": True, "file": "job.sbatch", "submit": "sbatch job.sbatch"}
    rendered = json.loads(run_cli("render", "examples/sql.yaml", "--json").out)
    assert rendered["ok"] is True and rendered["config"]["lora_r"] == 16


def test_a_failing_json_command_still_prints_one_json_document(workdir: Path, bad_spec: Path) -> None:
    res = run_cli("plan", "examples/bad.yaml", "--json")
    assert res.code == 1
    document = json.loads(res.out)
    assert document["ok"] is False and document["error"]["message"] == "1 error(s) found"
    assert document["problems"][0]["path"] == "method"
    res = run_cli("status", "not-a-run", "--json")
    assert res.code == 2 and json.loads(res.out)["error"]["message"].startswith("not-a-run: not a run directory")
    res = run_cli("run", "examples/bad.yaml", "--json")  # a run command: JSON lines, the last an error event
    assert json.loads(res.out.splitlines()[-1])["event"] == "error"


def test_dash_output_is_stdout_everywhere(workdir: Path) -> None:
    res = run_cli("render", "examples/sql.yaml", "-o", "-")
    assert res.code == 0 and res.out.startswith("# yaml-language-server: ") and not Path("-").exists()
    res = run_cli("schema", "spec", "-o", "-")
    assert json.loads(res.out)["title"] == "axowrap spec" and not Path("-").exists()
    res = run_cli("launch", "slurm", "examples/sql.yaml", "-o", "-")
    assert res.out.startswith("#!") and not Path("-").exists()
    res = run_cli("launch", "skypilot", "examples/sql.yaml", "-o", "-")
    assert "run:" in res.out and not Path("-").exists()
    assert run_cli("new", "--task", "sql", "-o", "-").out.startswith("# axowrap spec")


def _completion_env(tmp: Path) -> dict[str, str]:
    bindir = tmp / "bin"  # an `axowrap` on PATH that runs this checkout, as the script calls it
    write(bindir / "axowrap", f'#!/bin/sh\nexec {sys.executable} -m axowrap "$@"\n').chmod(0o755)
    return _env(PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_bash_completes_tasks_targets_steps_and_commands(tmp_path: Path) -> None:
    script = (
        "source <(axowrap completion bash)\n"
        'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); '
        '_axowrap_completion axowrap; echo "${COMPREPLY[*]}"; }\n'
        "complete_words axowrap new --task s\n"
        "complete_words axowrap validate x.yaml --target h1\n"
        "complete_words axowrap run x.yaml --steps train,m\n"
        "complete_words axowrap sw\n"
        "complete_words axowrap serve runs/x --gguf-type q4_k\n"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_completion_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["simpo sql summarize", "h100-80gb", "train,merge", "sweep", "q4_k_m q4_k_s"]


def test_run_directories_complete(workdir: Path) -> None:
    assert run_cli("run", "examples/sql.yaml", "--dry-run", "--steps", "train").code == 0
    (run,) = Path("runs").iterdir()
    env = {**_completion_env(workdir), "COMP_WORDS": "axowrap status ", "COMP_CWORD": "2"}
    out = subprocess.run(
        ["axowrap"], capture_output=True, text=True, cwd=workdir, env={**env, "_AXOWRAP_COMPLETE": "bash_complete"}
    )
    assert out.stdout.splitlines() == [f"plain,runs/{run.name}"]


@unless_ci(shutil.which("zsh") is None, "zsh is not installed (apt-get install zsh)")
def test_zsh_completes_a_task_name(tmp_path: Path) -> None:
    script = (
        "autoload -U compinit && compinit -u\n"
        "source <(axowrap completion zsh)\n"
        'compadd() { print -l -- "${completions[@]}" }\n'
        "words=(axowrap new --task s); CURRENT=4; _axowrap_completion\n"
    )
    out = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=_completion_env(tmp_path))
    assert out.stdout.splitlines() == ["simpo", "sql", "summarize"], out.stderr


def test_verbose_shows_the_child_commands(workdir: Path) -> None:
    assert run_cli("run", "examples/sql.yaml", "--dry-run", "--steps", "train").code == 0
    (run,) = Path("runs").iterdir()
    args = ["_envcheck", str(run), "--rank", "0", "--nodes", "1", "--main-ip", "127.0.0.1", "--port", "29999"]
    quiet = subprocess.run(
        [*AXOWRAP, *args, "--", "echo", "hi"], capture_output=True, text=True, cwd=workdir, env=_env()
    )
    assert quiet.returncode == 0 and quiet.stdout == "hi\n" and "+ echo hi" not in quiet.stderr
    loud = subprocess.run(
        [*AXOWRAP, "-v", *args, "--", "echo", "hi"], capture_output=True, text=True, cwd=workdir, env=_env()
    )
    assert loud.returncode == 0 and loud.stdout == "hi\n" and "+ echo hi\n" in loud.stderr
