"""Safe file handling and exits: `-o` onto devices, FIFOs and symlinks; file modes; render --all
and symlinks out of the repo; the error log (rotated, secrets redacted); `extends` and
`data check` outside the repo; the judge's key; an interrupted `init`; Ctrl-C during imports;
missing optional packages; nothing deleted when a new training does not start."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import fuzzkit
import pytest
from conftest import write
from helpers import run_cli

from axowrap.errors import AxowrapError, StepFailed
from axowrap.files import atomic_write

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ -o and atomic writes


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "job.sbatch"
    target.write_text("old")
    target.chmod(0o750)
    atomic_write(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750 and target.read_text() == "new"


def test_atomic_write_gives_a_new_file_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.yaml", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640  # not mkstemp's 0600


def test_output_to_dev_null_writes_through_and_keeps_the_device(workdir: Path) -> None:
    before = os.stat("/dev/null")
    res = run_cli("render", "examples/sql.yaml", "-o", "/dev/null")
    assert res.code == 0, res.err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_output_to_dev_stdout_goes_to_stdout(workdir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "axowrap", "render", "examples/sql.yaml", "-o", "/dev/stdout"],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    assert out.returncode == 0, out.stderr
    assert (
        out.stdout.startswith("# yaml-language-server:")
        and "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in out.stdout
    )


def test_output_to_a_fifo_without_a_reader_is_refused_and_the_fifo_kept(workdir: Path) -> None:
    fifo = fuzzkit.make_fifo(workdir / "out.fifo")
    res = run_cli("render", "examples/sql.yaml", "-o", str(fifo))
    assert res.code == 1
    assert "is a FIFO that nobody reads; refusing to wait for a reader" in res.err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_to_a_fifo_with_a_reader_writes_through(workdir: Path) -> None:
    fifo = fuzzkit.make_fifo(workdir / "out.fifo")
    got: list[bytes] = []
    opened = threading.Event()

    def read() -> None:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, without waiting for a writer
        opened.set()
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        while True:  # end of file only counts once the writer has written
            chunk = os.read(fd, 65536)
            if not chunk and chunks:
                break
            if chunk:
                chunks.append(chunk)
        os.close(fd)
        got.append(b"".join(chunks))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(10)
    res = run_cli("render", "examples/sql.yaml", "-o", str(fifo))
    reader.join(30)
    assert res.code == 0, res.err
    assert got and b"base_model:" in got[0] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_through_a_symlink_keeps_the_link(workdir: Path) -> None:
    real = workdir / "configs" / "sql.axolotl.yaml"
    write(real, "old\n")
    link = workdir / "current.yaml"
    link.symlink_to(real)
    assert run_cli("render", "examples/sql.yaml", "-o", str(link)).code == 0
    assert link.is_symlink() and "base_model:" in real.read_text()


def test_output_onto_a_folder_is_a_clear_error(workdir: Path) -> None:
    (workdir / "folder").mkdir()
    res = run_cli("new", "--task", "sql", "-o", str(workdir / "folder"))
    assert res.code in (1, 2) and "Traceback" not in res.err


# ------------------------------------------------------------------ render --all and symlinks


def test_render_all_never_follows_a_symlink_out_of_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    assert run_cli("init", str(repo)).code == 0
    elsewhere.mkdir()
    (elsewhere / "precious.axolotl.yaml").write_text("not a rendered config of this repo\n")
    import shutil

    shutil.rmtree(repo / "rendered")
    (repo / "rendered").symlink_to(elsewhere)
    monkeypatch.chdir(repo)
    res = run_cli("render", "--all")
    assert res.code == 1
    assert "rendered leads outside the repo" in res.err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious.axolotl.yaml"]  # nothing written or removed


# ------------------------------------------------------------------ the error log


def test_the_log_is_rotated_and_capped(tmp_path: Path) -> None:
    from axowrap.cli.main import write_log

    log = tmp_path / "axowrap.log"
    for _ in range(50):
        write_log("x" * 1000 + "\n", log, max_bytes=10_000)
    assert log.stat().st_size <= 11_001 and (tmp_path / "axowrap.log.1").stat().st_size <= 11_001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["axowrap.log", "axowrap.log.1"]


def test_the_log_never_holds_secret_looking_argv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(workdir / "cache"))
    import axowrap.jobs.slurm as slurm

    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(slurm, "slurm_script", boom)
    token = "hf_" + "A1b2C3d4" * 5
    res = run_cli(
        "launch", "slurm", "examples/sql.yaml", "-o", "j.sbatch", "--env", f"HF_TOKEN={token}", "--env", "X=" + token
    )
    assert res.code == 3
    text = (workdir / "cache" / "axowrap" / "axowrap.log").read_text()
    assert "kaboom" in text and token not in text and "HF_TOKEN=<redacted>" in text


# ------------------------------------------------------------------ reading outside the repo


def test_extends_outside_the_repo_is_refused_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # a git work tree: the repo's bounds
    outside = write(tmp_path / "base.yaml", "training: {epochs: 1}\n")
    spec = write(repo / "spec.yaml", fuzzkit.SPEC_HEAD + f"extends: {outside}\n")
    import shutil

    shutil.copytree(fuzzkit.EXAMPLES / "data", repo / "data")
    monkeypatch.chdir(repo)
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert f"extends: {str(outside)!r} is outside the repo" in res.out and "--allow-outside" in res.out
    env = run_cli("validate", "/proc/self/environ")  # named on the command line: the user asked
    assert "Traceback" not in env.err
    assert run_cli("--allow-outside", "validate", str(spec)).code == 0


def test_data_check_does_not_print_files_outside_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    spec = write(repo / "spec.yaml", "task: sql\nbase_model: org/m\ndatasets: [{path: /proc/self/environ}]\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("AXOWRAP_SECRET_FOR_TEST", "s3cr3t-value")
    res = run_cli("data", "check", str(spec), "--no-tokens")
    assert res.code == 1 and "is outside the repo" in res.out + res.err
    assert "s3cr3t-value" not in res.out + res.err


# ------------------------------------------------------------------ the judge's key


def test_the_judge_key_goes_only_over_https_or_to_this_machine() -> None:
    from axowrap.evaluation.judge import check_endpoint

    with pytest.raises(AxowrapError, match="refusing to send AXOWRAP_JUDGE_API_KEY over plain http to evil.example"):
        check_endpoint("http://evil.example/v1", "sk-secret")
    with pytest.raises(AxowrapError, match="not an http"):
        check_endpoint("file:///proc/self/environ", None)
    for fine in (
        "https://judge.example/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost:8080/v1",
        "http://[::1]:1/v1",
    ):
        check_endpoint(fine, "sk-secret")
    check_endpoint("http://evil.example/v1", None)  # no key, nothing to leak


# ------------------------------------------------------------------ init


def test_an_interrupted_init_leaves_nothing_and_can_be_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import axowrap.templating as templating

    real = templating.render_template
    calls = {"n": 0}

    def flaky(name: str, **kw: object) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(name, **kw)

    monkeypatch.setattr(templating, "render_template", flaky)
    res = run_cli("init", str(tmp_path / "ft"))
    assert res.code == 130
    assert not (tmp_path / "ft").exists() and list(tmp_path.iterdir()) == []  # no partial scaffold
    monkeypatch.setattr(templating, "render_template", real)
    res = run_cli("init", str(tmp_path / "ft"))
    assert res.code == 0, res.err
    assert (tmp_path / "ft" / "team.yaml").is_file()
    assert stat.S_IMODE((tmp_path / "ft").stat().st_mode) == 0o777 & ~_umask()


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def test_init_refuses_an_org_that_is_not_a_name(tmp_path: Path) -> None:
    res = run_cli("init", str(tmp_path / "ft"), "--org", "acme\ninjected: 1")
    assert res.code == 2 and "a Hub organisation name is" in res.err
    assert not (tmp_path / "ft").exists()


# ------------------------------------------------------------------ exits


BLOCKER = """
import sys
class Blocker:
    def __init__(self, name, exc):
        self.name, self.exc = name, exc
    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise self.exc
        return None
"""


def _blocked(module: str, exc: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        BLOCKER
        + f"sys.meta_path.insert(0, Blocker({module!r}, {exc}))\n"
        + "from axowrap.cli.main import main\n"
        + f"sys.exit(main({argv!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_ctrl_c_during_imports_is_exit_130_without_a_traceback(workdir: Path) -> None:
    out = _blocked("jinja2", "KeyboardInterrupt()", ["render", "examples/sql.yaml"], workdir)
    assert out.returncode == 130 and out.stderr.strip() == "interrupted", out.stderr


def test_a_missing_optional_package_is_exit_1_naming_the_extra(workdir: Path) -> None:
    """`eval` without Axolotl exited 3 ("a bug")."""
    from axowrap.run.pipeline import prepare_run

    run = prepare_run(Path("examples/sql.yaml"))
    (run.root / "state.json").write_text(json.dumps({"version": 1, "steps": {}}))
    from axowrap.run.pipeline import adopt

    fuzzkit.write_text(run.adapter / "adapter_config.json", "{}")
    from faulty_steps import safetensors_bytes

    (run.adapter / "adapter_model.safetensors").write_bytes(safetensors_bytes(16))
    adopt(run, "train", {})  # eval needs train done; the eval itself then needs Axolotl
    out = _blocked(
        "axolotl",
        "ModuleNotFoundError(\"No module named 'axolotl'\", name='axolotl')",
        ["eval", str(run.root), "--model", "base"],
        workdir,
    )
    assert out.returncode == 1, out.stderr
    assert "this needs the Python package 'axolotl', which is not installed" in out.stderr
    assert "pip install 'axowrap[train]'" in out.stderr and "Traceback" not in out.stderr


def test_serve_without_the_llama_cpp_server_is_exit_1(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It printed ModuleNotFoundError and exited 0."""
    import axowrap.serve.server as server
    from axowrap.run.pipeline import prepare_run

    run = prepare_run(Path("examples/sql.yaml"))
    run.gguf.mkdir()
    fuzzkit.write_text(run.gguf / "sql-q8_0.gguf", "GGUF")
    monkeypatch.setattr(server, "SERVER_MODULES", (*server.SERVER_MODULES, "not_an_installed_module_xyz"))
    res = run_cli("serve", str(run.root))
    assert res.code == 1
    assert "llama.cpp's server is not installed (missing: not_an_installed_module_xyz)" in res.err


def test_a_program_that_is_not_installed_is_a_step_failure() -> None:
    from axowrap.run.child import run_child

    with pytest.raises(StepFailed, match=r"cannot start `no-such-accelerate-xyz`: not found on PATH"):
        run_child(["no-such-accelerate-xyz", "launch"], log=None)


# ------------------------------------------------------------------ nothing deleted by a new training


def _previous_adapter(run_root: Path) -> Path:
    adapter = run_root / "adapter"
    write(adapter / "adapter_model.safetensors", "a finished adapter")
    write(adapter / "notes-of-the-user.txt", "mine")
    write(adapter / "incomplete-checkpoint-7" / "trainer_state.json", "{")
    return adapter


def test_a_new_training_that_does_not_start_puts_the_previous_adapter_back(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rmtree(adapter/)` ran before the launch, which then failed (accelerate missing)."""
    import axowrap.steps.train as train
    from axowrap.run.events import Events
    from axowrap.run.pipeline import prepare_run, run_steps

    run = prepare_run(Path("examples/sql.yaml"))
    adapter = _previous_adapter(run.root)
    monkeypatch.setattr(train, "command", lambda ctx: (["no-such-accelerate-xyz", "launch"], {}))
    with pytest.raises(StepFailed, match="cannot start `no-such-accelerate-xyz`"):
        run_steps(run, ["train"], events=Events(lambda _l: None))
    assert (adapter / "adapter_model.safetensors").read_text() == "a finished adapter"
    assert (adapter / "notes-of-the-user.txt").read_text() == "mine"
    assert (adapter / "incomplete-checkpoint-7" / "trainer_state.json").is_file()
    marker = json.loads((adapter / train.MARKER).read_text())
    assert marker["fingerprint"] is None  # never resumed as the new training's


def test_a_new_training_that_started_keeps_the_previous_one_in_superseded(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import axowrap.steps.train as train
    from axowrap.run.events import Events
    from axowrap.run.pipeline import prepare_run, run_steps

    run = prepare_run(Path("examples/sql.yaml"))
    _previous_adapter(run.root)
    # a "trainer" that writes its first checkpoint, then dies
    script = "import os, sys; os.makedirs('adapter/checkpoint-1', exist_ok=True); sys.exit(9)"
    monkeypatch.setattr(train, "command", lambda ctx: ([sys.executable, "-c", script], {}))
    with pytest.raises(StepFailed, match="exit code 9"):
        run_steps(run, ["train"], events=Events(lambda _l: None))
    (kept,) = list((run.root / "superseded").glob("*/adapter"))
    assert (kept / "notes-of-the-user.txt").read_text() == "mine"
    assert (kept / "adapter_model.safetensors").read_text() == "a finished adapter"
    assert (run.adapter / "checkpoint-1").is_dir()


def test_resume_moves_incomplete_checkpoints_aside_and_deletes_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resume used to rename them to incomplete-checkpoint-N, deleting an older one of that name."""
    import axowrap.steps.train as train
    from axowrap.run import state as st
    from axowrap.run.events import Events
    from axowrap.run.pipeline import prepare_run, run_steps

    run = prepare_run(Path("examples/sql.yaml"))
    monkeypatch.setattr(train, "command", lambda ctx: ([sys.executable, "-c", "raise SystemExit(5)"], {}))
    with pytest.raises(StepFailed):  # a training that failed: its adapter/ is marked as its own
        run_steps(run, ["train"], events=Events(lambda _l: None))
    assert st.load_state(run)["steps"]["train"]["status"] == "failed"
    for n in (1, 2):
        write(run.adapter / "checkpoint-3" / "trainer_state.json", "{")  # cut while saving
        write(run.adapter / "notes-of-the-user.txt", "mine")
        with pytest.raises(StepFailed):  # the same training again: a resume
            run_steps(run, ["train"], events=Events(lambda _l: None))
        moved = list((run.root / "superseded").glob("*/incomplete-checkpoint-3/trainer_state.json"))
        assert len(moved) == n  # the second one did not replace the first
    assert (run.adapter / "notes-of-the-user.txt").read_text() == "mine"
