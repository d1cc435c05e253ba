"""Team repos: init scaffold, discovery (--all), render --check, and the real pre-commit hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO, write
from helpers import run_cli

from axowrap.repo import rendered_path
from axowrap.team.discovery import discover


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scaffolded team repo, as the current directory."""
    res = run_cli("init", str(tmp_path / "ft"), "--org", "acme", "--target", "cpu")
    assert res.code == 0, res.err
    monkeypatch.chdir(tmp_path / "ft")
    return tmp_path / "ft"


def add_spec(team: Path) -> Path:
    """`axowrap new` a chat spec into specs/, with its data, inheriting team.yaml."""
    shutil.copytree(EXAMPLES / "data", team / "specs" / "data")
    res = run_cli("new", "--task", "chat", "-o", "specs/support-bot.yaml")
    assert res.code == 0, res.err
    spec = team / "specs" / "support-bot.yaml"
    text = spec.read_text(encoding="utf-8")
    # in a team repo, `new` extends the team base and leaves what it sets to it
    assert "\nextends: ../team.yaml " in text and "compute:" not in text and "method:" not in text
    return spec


def test_init_writes_the_scaffold_and_refuses_a_non_empty_folder(team: Path) -> None:
    for name in (
        "team.yaml",
        "specs/example.yaml",
        "README.md",
        ".pre-commit-config.yaml",
        ".github/workflows/axowrap.yml",
        "schemas/spec.schema.json",
        "rendered/example.axolotl.yaml",
    ):
        assert (team / name).is_file(), name
    assert "axowrap render --all --check" in (team / ".github/workflows/axowrap.yml").read_text()
    again = run_cli("init", str(team))
    assert again.code == 2
    assert f"error: {team} is not empty" in again.err and "--force" in again.err
    assert run_cli("init", str(team), "--force").code == 0


def test_discovery_tells_specs_from_bases(team: Path) -> None:
    add_spec(team)
    found = discover(Path("."))
    assert found.specs == [Path("specs/example.yaml"), Path("specs/support-bot.yaml")]
    assert found.bases == [Path("team.yaml")]  # extended, so never checked on its own
    assert rendered_path(Path("."), "support-bot") == Path("rendered/support-bot.axolotl.yaml")


def test_scaffold_new_spec_validate_and_render_check(team: Path) -> None:
    add_spec(team)
    assert run_cli("validate", "--all").code == 0
    stale = run_cli("render", "--all", "--check")
    assert stale.code == 1
    assert "missing specs/support-bot.yaml -> rendered/support-bot.axolotl.yaml" in stale.out
    assert "run `axowrap render --all`" in stale.err
    assert not (team / "rendered/support-bot.axolotl.yaml").exists()  # --check writes nothing
    assert run_cli("render", "--all").code == 0
    ok = run_cli("render", "--all", "--check")
    assert ok.code == 0, ok.out + ok.err
    assert "up to date specs/support-bot.yaml -> rendered/support-bot.axolotl.yaml" in ok.out
    rendered = (team / "rendered/support-bot.axolotl.yaml").read_text()
    assert "optimizer: adamw_torch\n" in rendered and "warmup_ratio: 0.03\n" in rendered  # from team.yaml


def test_a_hand_edit_fails_render_check_with_a_diff(team: Path) -> None:
    target = team / "rendered/example.axolotl.yaml"
    target.write_text(target.read_text().replace("lora_r: 16", "lora_r: 64"))
    res = run_cli("render", "--all", "--check")
    assert res.code == 1
    assert "out of date specs/example.yaml -> rendered/example.axolotl.yaml" in res.out
    assert "--- rendered/example.axolotl.yaml (committed)" in res.out
    assert "-lora_r: 64\n+lora_r: 16\n" in res.out
    # the same check for one spec, and the fix
    assert run_cli("render", "specs/example.yaml", "--check").code == 1
    assert run_cli("render", "--all").code == 0
    assert run_cli("render", "specs/example.yaml", "--check").code == 0


def test_a_base_spec_change_makes_every_child_stale(team: Path) -> None:
    base = team / "team.yaml"
    base.write_text(base.read_text().replace("warmup_ratio: 0.03", "warmup_ratio: 0.1"))
    res = run_cli("render", "--all", "--check")
    assert res.code == 1 and "-warmup_ratio: 0.03\n+warmup_ratio: 0.1\n" in res.out


def test_validate_all_reports_a_broken_spec_and_render_all_writes_nothing_for_it(team: Path) -> None:
    bad = team / "specs" / "bad.yaml"
    bad.write_text("extends: ../team.yaml\ntask: instruct\nbase_model: x/y\ndatasets: [{path: missing.jsonl}]\n")
    res = run_cli("validate", "--all")
    assert res.code == 1
    assert "specs/bad.yaml" in res.out and "dataset file 'missing.jsonl' not found" in res.out
    assert "ok specs/example.yaml" in res.out
    out = run_cli("render", "--all")
    assert out.code == 1 and "invalid specs/bad.yaml" in out.out
    assert not (team / "rendered/bad.axolotl.yaml").exists()


def test_all_needs_specs_and_excludes_a_spec_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = run_cli("validate", "--all")
    assert res.code == 1 and "no specs found under" in res.err
    assert run_cli("render", "x.yaml", "--all").code == 2


def test_schema_prints_both_schemas() -> None:
    import json

    spec = json.loads(run_cli("schema", "spec").out)
    assert "extends" in spec["properties"]
    axolotl = json.loads(run_cli("schema", "axolotl").out)
    assert "lora_r" in axolotl["properties"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _hook_env(tmp_path: Path) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)  # `language: system` hooks find this axowrap
    return {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pc-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def _pre_commit(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    bindir = Path(sys.executable).parent
    return subprocess.run(
        [str(bindir / "pre-commit"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_scaffold_pre_commit_hooks_run_through_pre_commit(team: Path, tmp_path: Path) -> None:
    env = _hook_env(tmp_path)
    _git(team, "init", "-q")
    _git(team, "add", "-A")
    ok = _pre_commit(team, env, "run", "--all-files")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "axowrap validate --all" in ok.stdout and "Passed" in ok.stdout
    target = team / "rendered/example.axolotl.yaml"
    target.write_text(target.read_text().replace("lora_alpha: 32", "lora_alpha: 8"))
    _git(team, "add", "-A")
    bad = _pre_commit(team, env, "run", "--all-files")
    assert bad.returncode == 1
    assert "axowrap render --all --check" in bad.stdout and "Failed" in bad.stdout
    assert "-lora_alpha: 8\n+lora_alpha: 32" in bad.stdout


def test_shipped_pre_commit_hooks_via_try_repo(team: Path, tmp_path: Path) -> None:
    """.pre-commit-hooks.yaml of this project, used from another repo (try-repo, no network)."""
    env = _hook_env(tmp_path)
    hooks = tmp_path / "hooks-repo"
    hooks.mkdir()
    shutil.copy(REPO / ".pre-commit-hooks.yaml", hooks)
    _git(hooks, "init", "-q")
    _git(hooks, "add", "-A")
    _git(hooks, "commit", "-q", "-m", "hooks")
    (team / ".pre-commit-config.yaml").unlink()
    _git(team, "init", "-q")
    _git(team, "add", "-A")
    for hook in ("axowrap-validate", "axowrap-render-check"):
        res = _pre_commit(team, env, "try-repo", str(hooks), hook, "--all-files")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Passed" in res.stdout
    (team / "specs/example.yaml").write_text(
        (team / "specs/example.yaml").read_text().replace("epochs: 1", "epochs: 2")
    )
    _git(team, "add", "-A")
    res = _pre_commit(team, env, "try-repo", str(hooks), "axowrap-render-check", "--all-files")
    assert res.returncode == 1 and "-num_epochs: 1\n+num_epochs: 2" in res.stdout


def test_a_rendered_config_without_a_spec_fails_the_check_and_render_all_removes_it(team: Path) -> None:
    (team / "specs/example.yaml").rename(team / "specs/renamed.yaml")
    res = run_cli("render", "--all", "--check")
    assert res.code == 1
    assert "missing specs/renamed.yaml -> rendered/renamed.axolotl.yaml" in res.out
    assert "no spec renders rendered/example.axolotl.yaml" in res.out
    assert "2 rendered config(s) missing, out of date or without a spec (of 1 spec(s))" in res.err
    assert run_cli("render", "--all").out.endswith("removed rendered/example.axolotl.yaml\n")
    assert sorted(p.name for p in (team / "rendered").iterdir()) == ["renamed.axolotl.yaml"]
    assert run_cli("render", "--all", "--check").code == 0


def test_init_is_deterministic(tmp_path: Path) -> None:
    for name in ("one", "two"):
        assert run_cli("init", str(tmp_path / name), "--org", "acme").code == 0
    one = {p.relative_to(tmp_path / "one"): p.read_bytes() for p in (tmp_path / "one").rglob("*") if p.is_file()}
    two = {p.relative_to(tmp_path / "two"): p.read_bytes() for p in (tmp_path / "two").rglob("*") if p.is_file()}
    assert one == two and len(one) == 10


def test_scaffold_hooks_match_the_shipped_hooks(team: Path) -> None:
    """The scaffold's local hooks and .pre-commit-hooks.yaml must run the same commands."""
    import yaml

    shipped = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    local = {h["id"]: h for h in yaml.safe_load((team / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]}
    assert set(shipped) == set(local) == {"axowrap-validate", "axowrap-render-check"}
    for hook_id, hook in shipped.items():
        for key in ("entry", "language", "files", "pass_filenames"):
            assert local[hook_id][key] == hook[key], (hook_id, key)


def test_init_without_rendered_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("init", str(tmp_path / "ft"), "--no-rendered").code == 0
    monkeypatch.chdir(tmp_path / "ft")
    assert not Path("rendered").exists()
    assert "render" not in Path(".pre-commit-config.yaml").read_text().replace("# ", "")
    assert "axowrap render --all --check" not in Path(".github/workflows/axowrap.yml").read_text()
    json.loads(Path(".vscode/settings.json").read_text())
    assert run_cli("validate", "--all").code == 0


def test_a_spec_that_lost_its_task_or_its_syntax_is_reported_not_skipped(team: Path) -> None:
    write(team / "specs" / "no-task.yaml", "extend: ../team.yaml\nmethod: lora\n")
    write(team / "elsewhere" / "broken.yaml", "task: [sql\n")
    write(team / "configs" / "notes.yaml", "just: a mapping\n")  # not a spec: no task/extends, not in specs/
    found = discover(Path("."))
    assert found.specs == [Path("elsewhere/broken.yaml"), Path("specs/example.yaml"), Path("specs/no-task.yaml")]
    res = run_cli("validate", "--all")
    assert res.code == 1
    assert "specs/no-task.yaml:1:1: error: (top level): missing `task:`" in res.out
    assert "elsewhere/broken.yaml" in res.out


def test_an_extends_cycle_is_reported_not_skipped(team: Path) -> None:
    write(team / "specs" / "a.yaml", "extends: b.yaml\ntask: sql\n")
    write(team / "specs" / "b.yaml", "extends: a.yaml\n")
    assert {Path("specs/a.yaml"), Path("specs/b.yaml")} <= set(discover(Path(".")).specs)
    res = run_cli("validate", "--all")
    assert res.code == 1 and "extends cycle: specs/a.yaml -> specs/b.yaml -> specs/a.yaml" in res.out
