"""`axowrap diff`: semantic diffs of specs, Axolotl YAMLs and run directories (with manifests)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, write
from helpers import run_cli

SPEC = """\
name: sql
task: sql
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets: [{path: data/sql.jsonl}]
lora: {r: 8}
training: {epochs: 2, learning_rate: 1.0e-4}
compute: {target: cpu}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("a", "b"):
        shutil.copytree(EXAMPLES / "data", tmp_path / folder / "data")
    write(tmp_path / "a" / "sql.yaml", SPEC)
    write(tmp_path / "a" / "sql-v2.yaml", SPEC.replace("r: 8", "r: 16").replace("1.0e-4", "3.0e-4"))
    write(tmp_path / "b" / "sql.yaml", SPEC.replace("r: 8", "r: 16").replace("1.0e-4", "3.0e-4"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_two_specs_differ_in_sorted_keys_side_by_side(repo: Path) -> None:
    res = run_cli("diff", "a/sql.yaml", "a/sql-v2.yaml")
    assert res.code == 0, res.err
    assert res.out == (
        "key            a/sql.yaml  a/sql-v2.yaml\n"
        "learning_rate  1.0e-4      3.0e-4\n"
        "lora_alpha     16          32\n"
        "lora_r         8           16\n"
        "3 difference(s)\n"
    )


def test_a_spec_and_its_rendered_yaml_are_the_same(repo: Path) -> None:
    rendered = run_cli("render", "a/sql.yaml")
    write(repo / "a.axolotl.yaml", rendered.out.replace("# task:", "# a comment that does not count\n# task:"))
    same = run_cli("diff", "a/sql.yaml", "a.axolotl.yaml", "--exit-code")
    assert same.code == 0 and same.out.startswith(
        "no differences: a/sql.yaml (spec) and a.axolotl.yaml (axolotl config)"
    )
    write(
        repo / "b.axolotl.yaml",
        re.sub(r"micro_batch_size: \d+", "micro_batch_size: 64", rendered.out).replace("seed: 42\n", ""),
    )
    res = run_cli("diff", "a.axolotl.yaml", "b.axolotl.yaml", "--json", "--exit-code")
    assert res.code == 1 and "error: a.axolotl.yaml and b.axolotl.yaml differ" in res.err
    rows = json.loads(res.out)["config"]
    assert rows == [
        {"key": "micro_batch_size", "left": 2, "right": 64, "only": None},
        {"key": "seed", "left": 42, "right": None, "only": "left"},
    ]


def test_run_directories_also_diff_their_manifests(repo: Path) -> None:
    from axowrap.run.pipeline import prepare_run

    data = repo / "b" / "data" / "sql.jsonl"
    data.write_bytes(data.read_bytes().replace(b"SELECT", b"select", 1))
    run_a = prepare_run(repo / "a" / "sql.yaml", runs_root=repo / "runs-a")
    run_b = prepare_run(repo / "b" / "sql.yaml", runs_root=repo / "runs-b")
    res = run_cli("diff", str(run_a.root), str(run_b.root), "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert {r["key"] for r in out["config"]} >= {"learning_rate", "lora_r"}
    manifest = {r["key"]: r for r in out["manifest"]}
    assert list(manifest) == ["datasets[0].sha256"]  # versions, model, split: the same
    assert manifest["datasets[0].sha256"]["left"] != manifest["datasets[0].sha256"]["right"]
    text = run_cli("diff", str(run_a.root), str(run_b.root)).out
    assert "manifest: datasets[0].sha256" in text


def test_a_missing_side_is_a_usage_error(repo: Path) -> None:
    res = run_cli("diff", "a/sql.yaml", "nope.yaml")
    assert res.code == 2 and "error: nope.yaml: no such file or run directory" in res.err
