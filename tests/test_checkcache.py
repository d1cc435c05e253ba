"""Cached `validate` / `render --all` results: the same answers as a fresh check, reused only
while nothing they read changed (the file, its bases, data, model folder, Hugging Face cache,
axowrap itself), never for --deep or a check that reads the machine; and --jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, REPO, write
from helpers import run_cli

from axowrap import cache, checkcache
from axowrap.validate import Report

BIG_MODEL = {  # Llama-3-70B's shape: far more than one 24 GB GPU holds
    "model_type": "llama",
    "hidden_size": 8192,
    "num_hidden_layers": 80,
    "intermediate_size": 28672,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
}
SMALL_MODEL = {
    **BIG_MODEL,
    "hidden_size": 256,
    "num_hidden_layers": 2,
    "intermediate_size": 256,
    "num_attention_heads": 4,
}
TOO_BIG = "more than the 24 GB of a10g-24gb: it will not fit"


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache on, in a folder of this test's own; a copy of examples/ as the current directory."""
    monkeypatch.delenv("AXOWRAP_NO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    work = tmp_path / "work"
    shutil.copytree(EXAMPLES, work / "examples")
    monkeypatch.chdir(work)
    return work


def settle(*paths: Path) -> None:
    """Date files a few seconds back: a file written during a check's first 100 ms is not
    trusted (racy), and these tests write files and check them at once."""
    past = time.time() - 5
    for path in paths:
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(p, (past, past), follow_symlinks=False)


def entries(kind: str = checkcache.VALIDATE) -> list[Path]:
    return sorted((cache.cache_dir() / "checks" / kind).glob("*.json"))


def no_fresh_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a check that is not answered from the cache fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"checked afresh: {args}")

    monkeypatch.setattr("axowrap.validate.validate_path", refuse)
    monkeypatch.setattr("axowrap.spec.read.read_spec", refuse)


def out_of(*args: str) -> tuple[int, str]:
    res = run_cli(*args)
    return res.code, res.out + res.err


def test_every_example_gets_the_same_report_from_the_cache(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = sorted(str(p.relative_to(cached)) for p in (cached / "examples").glob("*.yaml"))
    fresh_text = out_of("validate", "--no-cache", *specs)
    fresh_json = out_of("validate", "--no-cache", "--json", *specs)
    assert not entries()
    first = out_of("validate", *specs)
    assert len(entries()) == len(specs)
    no_fresh_checks(monkeypatch)
    assert out_of("validate", *specs) == first == fresh_text
    assert out_of("validate", "--json", *specs) == fresh_json


def test_a_report_survives_the_round_trip_whole(cached: Path) -> None:
    spec = write(
        cached / "warn.yaml",
        "task: sql\nbase_model: acme/m\ndatasets: [{path: examples/data/sql.jsonl}]\n"
        "export: {hub: {adapter: acme/m-lora, private: false}}\n",
    )
    settle(spec)
    report = checkcache.validate_file(spec)
    again = checkcache.validate_file(spec)
    assert report.problems and [p.severity for p in report.problems] == ["warning"]
    assert again == report and again.target == report.target
    assert [p.extra for p in again.problems] == [p.extra for p in report.problems]


def test_a_changed_spec_is_checked_again(cached: Path) -> None:
    spec = cached / "examples" / "sql.yaml"
    assert out_of("validate", "examples/sql.yaml")[0] == 0
    spec.write_text(spec.read_text() + "method: lorra\n")
    settle(spec)
    code, text = out_of("validate", "examples/sql.yaml")
    assert code == 1 and "'lorra' is not allowed" in text


def team_repo(cached: Path, n: int, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A repo of `n` specs extending team.yaml, as the current directory (`--all` finds only them)."""
    repo = cached / "repo"
    shutil.copy(EXAMPLES / "data" / "sql.jsonl", write(repo / "data" / "sql.jsonl", ""))
    write(repo / "team.yaml", "method: lora\ntraining: {seed: 7}\ncompute: {target: a10g-24gb}\n")
    specs = [
        write(
            repo / "specs" / f"s{i}.yaml",
            f"extends: ../team.yaml\ntask: sql\nbase_model: acme/model-{i}\n"
            f"datasets: [{{path: ../data/sql.jsonl}}]\ntraining: {{epochs: {1 + i}}}\n",
        )
        for i in range(n)
    ]
    settle(repo)
    monkeypatch.chdir(repo)
    return [p.relative_to(repo) for p in specs]


def test_a_changed_base_rechecks_every_spec_that_extends_it(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team_repo(cached, 3, monkeypatch)
    assert out_of("validate", "--all")[0] == 0
    write(Path("team.yaml"), "method: lorra\ncompute: {target: a10g-24gb}\n")
    settle(Path("team.yaml"))
    code, text = out_of("validate", "--all")
    assert code == 1 and text.count("team.yaml:1:1: error: method: 'lorra' is not allowed") == 3
    assert "error: 3 error(s) in 3 of 3 file(s)" in text


def test_only_the_changed_spec_is_checked_again(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = team_repo(cached, 4, monkeypatch)
    assert out_of("validate", "--all")[0] == 0
    checked: list[Path] = []
    real = checkcache._validate_fresh
    monkeypatch.setattr(checkcache, "_validate_fresh", lambda path, *a: checked.append(path) or real(path, *a))
    specs[2].write_text(specs[2].read_text().replace("epochs: 3", "epochs: 9"))
    settle(specs[2])
    assert out_of("validate", "--all")[0] == 0
    assert checked == [Path("specs/s2.yaml")]


def test_data_files_that_change_appear_or_vanish_are_inputs(cached: Path) -> None:
    spec = write(cached / "d.yaml", "task: instruct\nbase_model: acme/m\ndatasets: [{path: rows.jsonl}]\n")
    settle(spec)
    code, text = out_of("validate", "d.yaml")
    assert code == 1 and "dataset file 'rows.jsonl' not found" in text
    rows = write(cached / "rows.jsonl", '{"instruction": "a", "output": "b"}\n')
    settle(rows)
    assert out_of("validate", "d.yaml")[0] == 0
    rows.write_text(rows.read_text() + '{"instruction": "c"}\n')
    settle(rows)
    code, text = out_of("validate", "d.yaml")
    assert code == 1 and "line 2: missing key 'output'" in text


def test_a_local_model_folder_is_an_input(cached: Path) -> None:
    model = write(cached / "model" / "config.json", json.dumps(BIG_MODEL)).parent
    spec = write(
        cached / "m.yaml",
        "task: sql\nbase_model: ./model\ndatasets: [{path: examples/data/sql.jsonl}]\nexport: {gguf: null}\n",
    )
    settle(model, spec)
    assert TOO_BIG in out_of("validate", "m.yaml")[1]
    assert len(entries()) == 1
    (model / "config.json").write_text(json.dumps(SMALL_MODEL))
    settle(model)
    assert TOO_BIG not in out_of("validate", "m.yaml")[1]


def test_the_hugging_face_cache_of_a_hub_model_is_an_input(cached: Path) -> None:
    spec = write(cached / "h.yaml", "task: sql\nbase_model: acme/big\ndatasets: [{path: examples/data/sql.jsonl}]\n")
    settle(spec)
    assert TOO_BIG not in out_of("validate", "h.yaml")[1]  # not in the cache, not in the table: not sized
    commit = "a" * 40
    repo = cached.parent / "hub" / "models--acme--big"
    write(repo / "refs" / "main", commit)
    write(repo / "snapshots" / commit / "config.json", json.dumps(BIG_MODEL))
    settle(repo)
    assert TOO_BIG in out_of("validate", "h.yaml")[1]


def test_the_team_targets_file_is_an_input(cached: Path) -> None:
    write(cached / "targets.yaml", "box: {vram_gb: 8}\n")
    write(
        cached / "t.yaml",
        "task: sql\nbase_model: ./model\ndatasets: [{path: examples/data/sql.jsonl}]\ntargets: targets.yaml\n"
        "compute: {target: box}\nexport: {gguf: null}\n",
    )
    write(cached / "model" / "config.json", json.dumps(SMALL_MODEL))
    settle(cached)
    assert out_of("validate", "t.yaml")[0] == 0
    assert len(entries()) == 1
    write(cached / "targets.yaml", "box: {vram_gb: 8, bf16: maybe}\n")
    settle(cached / "targets.yaml")
    code, text = out_of("validate", "t.yaml")
    assert code == 1 and "bf16" in text


def test_where_a_check_looks_is_part_of_the_question(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write(cached / "h.yaml", "task: sql\nbase_model: acme/big\ndatasets: [{path: examples/data/sql.jsonl}]\n")
    settle(spec)
    assert TOO_BIG not in out_of("validate", "h.yaml")[1]
    commit = "b" * 40
    other = cached.parent / "other-hub"
    write(other / "models--acme--big" / "refs" / "main", commit)
    write(other / "models--acme--big" / "snapshots" / commit / "config.json", json.dumps(BIG_MODEL))
    settle(other)
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    assert TOO_BIG in out_of("validate", "h.yaml")[1]


def test_the_code_fingerprint_follows_every_file(tmp_path: Path) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    before = cache.files_fingerprint([tmp_path])
    assert cache.files_fingerprint([tmp_path]) == before
    target = tmp_path / "schemas" / "spec.schema.json"
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 1))
    assert cache.files_fingerprint([tmp_path]) != before


def fresh_checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files checked afresh (not answered from the cache) from here on."""
    checked: list[Path] = []
    real = checkcache._validate_fresh
    monkeypatch.setattr(checkcache, "_validate_fresh", lambda path, *a: checked.append(path) or real(path, *a))
    return checked


def test_a_new_axowrap_version_rechecks_everything(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert out_of("validate", "examples/sql.yaml")[0] == 0
    checked = fresh_checks(monkeypatch)
    assert out_of("validate", "examples/sql.yaml")[0] == 0 and checked == []
    monkeypatch.setattr(cache, "__version__", "99.0.0")
    cache.code_fingerprint.cache_clear()
    try:
        assert out_of("validate", "examples/sql.yaml")[0] == 0
    finally:
        cache.code_fingerprint.cache_clear()
    assert checked == [Path("examples/sql.yaml")]


def test_the_axolotl_release_is_part_of_the_answer(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from axowrap.releases import installed, shipped

    other = next(v for v in reversed(shipped()) if v != installed())
    spec = "examples/sql.yaml"
    default = json.loads(out_of("validate", "--json", spec)[1])
    checked = fresh_checks(monkeypatch)
    asked = json.loads(out_of("validate", "--json", "--axolotl", other, spec)[1])
    assert checked == [Path(spec)]  # another release: another question
    assert json.loads(out_of("validate", "--json", "--axolotl", other, spec)[1]) == asked
    assert json.loads(out_of("validate", "--json", spec)[1]) == default
    assert checked == [Path(spec)]  # both answered from the cache since
    assert [f["axolotl"] for f in asked["files"]] == [other] and asked["axolotl"]["chosen_by"] == "--axolotl"
    assert [f["axolotl"] for f in default["files"]] != [other]


def test_a_changed_schema_or_table_rechecks(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chosen release's generated files are inputs by content: an entry made when they held
    something else is not used."""
    from axowrap.resources import schema_file

    version = json.loads(out_of("validate", "--json", "examples/sql.yaml")[1])["files"][0]["axolotl"]
    checked = fresh_checks(monkeypatch)
    for kind in ("schema", "tables"):
        (entry,) = entries()
        stored = json.loads(entry.read_text())
        paths = [path for path, _ in stored["inputs"]]
        generated = str(schema_file(f"axolotl-{version}.{kind}.json"))
        assert generated in paths
        stored["inputs"] = [[p, "sha256:" + "0" * 64 if p == generated else f] for p, f in stored["inputs"]]
        entry.write_text(json.dumps(stored))
        before = len(checked)
        assert out_of("validate", "examples/sql.yaml")[0] == 0
        assert len(checked) == before + 1
        assert out_of("validate", "examples/sql.yaml")[0] == 0 and len(checked) == before + 1  # kept again


def test_a_wandb_login_changes_the_answer(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """rules/tracking.py looks for WANDB_API_KEY (its presence is part of the question, never its
    value) and the netrc file (an input)."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    netrc = cached / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    spec = write(
        cached / "w.yaml",
        "task: sql\nbase_model: acme/m\ndatasets: [{path: examples/data/sql.jsonl}]\ntracking: {wandb: {project: p}}\n",
    )
    settle(spec)
    warning = "W&B online, but no WANDB_API_KEY"
    assert warning in out_of("validate", "w.yaml")[1]
    monkeypatch.setenv("WANDB_API_KEY", "secret-value")
    assert warning not in out_of("validate", "w.yaml")[1]
    assert not any("secret-value" in e.read_text() for e in entries())
    monkeypatch.delenv("WANDB_API_KEY")
    assert warning in out_of("validate", "w.yaml")[1]
    write(netrc, "machine api.wandb.ai\n  login user\n  password key\n")
    settle(netrc)
    assert warning not in out_of("validate", "w.yaml")[1]


def test_installing_a_package_is_a_new_code_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules ask whether packages are installed (mlflow, wandb, SQLAlchemy): what each
    sys.path folder holds is part of the code fingerprint."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    before = cache.files_fingerprint([])
    (site / "wandb-0.19.0.dist-info").mkdir()
    assert cache.files_fingerprint([]) != before


def test_deep_is_never_cached(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cache, "lookup", lambda *a: calls.append("lookup"))
    monkeypatch.setattr(cache, "store", lambda *a: calls.append("store") or True)
    monkeypatch.setattr("axowrap.validate.validate_path", lambda path, **kw: Report(str(path), "spec"))
    checkcache.validate_file(Path("examples/sql.yaml"), deep=True)
    assert calls == []


def test_a_check_that_reads_the_machine_is_not_kept(cached: Path) -> None:
    write(cached / "model" / "config.json", json.dumps({**SMALL_MODEL, "architectures": ["LlamaForCausalLM"]}))
    write(cached / "model" / "tokenizer.json", json.dumps({"model": {"vocab": {"a": 0}}}))
    write(
        cached / "g.yaml",
        "task: sql\nbase_model: ./model\ndatasets: [{path: examples/data/sql.jsonl}]\nexport: {merge: true, gguf: [q8_0]}\n",
    )
    settle(cached)
    assert out_of("validate", "g.yaml")[0] == 0
    assert not entries()  # the GGUF preflight asks the disk for free space: checked every time


def test_a_file_changed_during_its_check_is_not_kept(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = cached / "examples" / "sql.yaml"
    real = checkcache._spec_inputs

    def edit_while_checking(s: Any) -> Any:
        spec.write_text(spec.read_text() + "# edited\n")
        return real(s)

    monkeypatch.setattr(checkcache, "_spec_inputs", edit_while_checking)
    assert out_of("validate", "examples/sql.yaml")[0] == 0
    assert not entries()


def test_a_broken_or_unwritable_cache_is_only_slower(cached: Path) -> None:
    assert out_of("validate", "examples/sql.yaml")[0] == 0
    (entry,) = entries()
    entry.write_text('{"inputs": [["x", ')  # cut short, as a crash mid-write on another system could leave it
    assert out_of("validate", "examples/sql.yaml") == (0, "ok examples/sql.yaml (spec, target a10g-24gb x1)\n")
    shutil.rmtree(cache.cache_dir())
    cache.cache_dir().parent.mkdir(parents=True, exist_ok=True)
    cache.cache_dir().write_text("not a folder")
    assert out_of("validate", "examples/sql.yaml") == (0, "ok examples/sql.yaml (spec, target a10g-24gb x1)\n")


def test_axowrap_no_cache_keeps_nothing(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXOWRAP_NO_CACHE", "1")
    assert out_of("validate", "examples/sql.yaml")[0] == 0
    assert not cache.cache_dir().exists()


def test_render_check_answers_from_the_cache_and_still_compares(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team_repo(cached, 3, monkeypatch)
    assert out_of("render", "--all")[0] == 0
    fresh = out_of("render", "--all", "--check", "--no-cache")
    assert fresh[0] == 0 and out_of("render", "--all", "--check") == fresh
    assert len(entries(checkcache.RENDER)) == 3
    no_fresh_checks(monkeypatch)
    assert out_of("render", "--all", "--check") == fresh
    committed = Path("rendered") / "s1.axolotl.yaml"
    committed.write_text(committed.read_text().replace("num_epochs: 2", "num_epochs: 5"))
    code, text = out_of("render", "--all", "--check")
    assert code == 1 and "out of date specs/s1.yaml -> rendered/s1.axolotl.yaml" in text and "-num_epochs: 5" in text


@pytest.mark.parametrize("command", [("validate", "--all"), ("render", "--all", "--check")])
def test_jobs_give_the_same_output_in_the_same_order(
    cached: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("AXOWRAP_NO_CACHE", "1")  # every spec is a miss, so every one goes to a worker
    specs = team_repo(cached, 6, monkeypatch)
    specs[3].write_text(specs[3].read_text() + "method: lorra\n")
    write(Path("specs") / "broken.yaml", "task: [sql\n")
    one = out_of(*command, "-j", "1")
    assert one[0] == 1 and "lorra" in one[1]
    assert out_of(*command, "-j", "3") == one


def test_an_error_in_a_worker_reaches_the_user_whole(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXOWRAP_NO_CACHE", "1")
    team_repo(cached, 4, monkeypatch)
    one = out_of("validate", "--all", "--target", "h100-80gbb", "-j", "1")
    assert out_of("validate", "--all", "--target", "h100-80gbb", "-j", "2") == one
    assert one[0] == 2 and "did you mean 'h100-80gb'?" in one[1] and "hint:" in one[1]


def test_auto_jobs_fork_only_when_it_pays() -> None:
    assert checkcache.workers(0, 5) == 1
    assert checkcache.workers(0, checkcache.MISSES_PER_WORKER * 64) == checkcache.cpus()
    assert checkcache.workers(4, 2) == 2
    assert checkcache.workers(1, 500) == 1


# Every file a check reads is an input: a real check of each kind of spec, with every file it
# opens, lists or looks at recorded, must stay within what axowrap.rules.inputs lists (or
# axowrap's own files and the interpreter's).


_TOUCHED: list[set[str]] = []  # the set being filled while a check runs


def _touch(path: Any) -> None:
    if _TOUCHED and isinstance(path, (str, bytes, os.PathLike)):
        _TOUCHED[-1].add(os.path.abspath(os.fsdecode(path)))


def _audit(event: str, args: tuple) -> None:
    if event in ("open", "os.listdir", "os.scandir") and args:
        _touch(args[0])


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only while a check runs


def _reads_of(spec_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], set[Path]]:
    """(every path the fresh check of `spec_path` opened, listed or looked at, the inputs it declared)."""
    from axowrap.rules.inputs import spec_inputs
    from axowrap.validate import validate_path

    real_stat, real_lstat = os.stat, os.lstat
    monkeypatch.setattr(os, "stat", lambda path, *a, **kw: _touch(path) or real_stat(path, *a, **kw))
    monkeypatch.setattr(os, "lstat", lambda path, *a, **kw: _touch(path) or real_lstat(path, *a, **kw))
    _TOUCHED.append(set())
    try:
        report = validate_path(spec_path)
    finally:
        touched = _TOUCHED.pop()
        monkeypatch.setattr(os, "stat", real_stat)
        monkeypatch.setattr(os, "lstat", real_lstat)
    assert report.spec is not None
    return touched, {Path(os.path.abspath(p)) for p in spec_inputs(report.spec).paths}


def _covered(path: str, inputs: set[Path]) -> bool:
    from axowrap.resources import PACKAGE_DIR

    p = Path(path)
    own = [
        PACKAGE_DIR,
        PACKAGE_DIR.parent / "templates",
        PACKAGE_DIR.parent / "schemas",
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(cache.cache_dir()),
    ]
    if any(p == root or root in p.parents for root in own):
        return True
    if str(p).startswith(("/proc", "/sys", "/dev", "/etc")):
        return True
    # an input covers itself, what is inside it (a folder), and its parents (looking for it)
    return any(p == i or i in p.parents or p in i.parents for i in inputs)


def test_every_file_a_check_reads_is_an_input(cached: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    team_repo(cached, 1, monkeypatch)
    monkeypatch.chdir(cached)
    write(cached / "model" / "config.json", json.dumps(SMALL_MODEL))
    write(cached / "targets.yaml", "box: {vram_gb: 8}\n")
    write(cached / "held.jsonl", '{"instruction": "a", "output": "b"}\n')
    local = write(
        cached / "local.yaml",
        "task: sql\nbase_model: ./model\ndatasets: [{path: examples/data/sql.jsonl}, {path: missing.jsonl}]\n"
        "targets: targets.yaml\ncompute: {target: box}\neval: {holdout: null, holdout_file: held.jsonl}\n",
    )
    monkeypatch.setenv("NETRC", str(write(cached / "netrc", "machine example.com\n")))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    tracked = write(
        cached / "tracked.yaml",
        "task: sql\nbase_model: acme/m\ndatasets: [{path: examples/data/sql.jsonl}]\ntracking: {wandb: {project: p}}\n",
    )
    hub = write(
        cached / "hub.yaml",
        "task: instruct\nbase_model: acme/m\ndatasets: [{path: acme/rows, format: alpaca, weight: 2}, "
        "{path: examples/data/sql.jsonl, format: alpaca, max_rows: 3}]\n",
    )
    specs = [*sorted((cached / "examples").glob("*.yaml")), local, tracked, hub, cached / "repo" / "specs" / "s0.yaml"]
    for spec in specs:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(spec.parent.parent if spec.parent.name == "specs" else cached)
            touched, inputs = _reads_of(Path(os.path.relpath(spec)), patch)
        stray = sorted(p for p in touched if not _covered(p, inputs))
        assert not stray, f"{spec.name} read files that are not among its inputs: {stray}"


def test_a_warm_validate_imports_none_of_the_checking_machinery(cached: Path) -> None:
    code = (
        "import sys; from axowrap.cli.main import main; main(['validate', 'examples/sql.yaml']); "
        "print(sorted(m for m in ('yaml', 'jinja2', 'jsonschema', 'axowrap.rules', 'axowrap.spec.read') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(
        [sys.executable, "-c", code], cwd=cached, env=env, capture_output=True, text=True, check=True
    )
    assert first.stdout.splitlines()[-1] == "['axowrap.rules', 'axowrap.spec.read', 'jinja2', 'yaml']"
    warm = subprocess.run([sys.executable, "-c", code], cwd=cached, env=env, capture_output=True, text=True, check=True)
    assert warm.stdout.splitlines() == ["ok examples/sql.yaml (spec, target a10g-24gb x1)", "[]"]


# A cold `validate` imports what checking a spec needs and nothing else: the count is pinned (with
# room for a few new modules of axowrap's own), and the third-party packages are named.
MODULES_CEILING = 300  # 259 at the time of writing (Python 3.11, a valid spec, --no-cache)
THIRD_PARTY = {"click", "yaml", "cython_runtime", "jinja2", "markupsafe", "orjson"}  # cython_runtime: yaml's C parser


@pytest.mark.parametrize("spec,valid", [("examples/sql.yaml", True), ("bad.yaml", False)])
def test_a_cold_validate_imports_few_modules(cached: Path, spec: str, valid: bool) -> None:
    write(
        cached / "bad.yaml",
        "task: sql\nbase_model: acme/m\nmethod: lorra\ndatasets: [{path: examples/data/sql.jsonl}]\n",
    )
    code = (
        "import json, sys; before = set(sys.modules); from axowrap.cli.main import main; "
        f"main(['validate', '--no-cache', {spec!r}]); "
        "new = set(sys.modules) - before; "
        "print(json.dumps([len(new), sorted({m.split('.')[0] for m in new} - set(sys.stdlib_module_names))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=cached, env=env, capture_output=True, text=True)
    count, packages = json.loads(out.stdout.splitlines()[-1])
    packages = {p for p in packages if not p.startswith("_")}
    if valid:  # no jsonschema: the compiled predicates say "valid"; no rich, no torch
        assert packages <= THIRD_PARTY | {"axowrap"}, packages
        assert count <= MODULES_CEILING, f"{count} modules imported by a cold validate"
    else:  # jsonschema words the errors, imported only now
        assert "jsonschema" in packages and "lorra" in out.stdout


def test_a_device_named_as_an_input_is_never_read(tmp_path: Path) -> None:
    """`datasets: [{path: /dev/zero}]` hung `validate` for ever: the cache hashed its inputs by
    reading them, and /dev/zero has no end. A device is fingerprinted by its kind, never read."""
    assert cache.fingerprint("/dev/zero").startswith("special:")
    spec = write(tmp_path / "dz.yaml", "task: sql\nbase_model: org/m\ndatasets: [{path: /dev/zero}]\n")
    done = subprocess.run(
        [sys.executable, "-m", "axowrap", "validate", str(spec)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "is a character device, not a data file" in done.stdout


def test_a_fifo_given_as_a_spec_is_refused_not_waited_on(tmp_path: Path) -> None:
    """`validate fifo.yaml` hung: the cache read the file before the check could refuse it."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "axowrap", "validate", str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "fifo.yaml" in done.stdout, done.stdout + done.stderr
