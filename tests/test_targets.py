"""The target table (one source for GPU facts), a team's own targets under `targets:` (in
team.yaml or a file), and their use by validate --target, render, plan and launch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write
from helpers import run_cli

from axowrap.targets import capability_problems, get_target, profiles, target_names

GPUS = Path(__file__).parent / "data" / "gpus.yaml"  # the GPU facts collected with their sources
# Built-in target -> its entry in tests/data/gpus.yaml.
SOURCES = {
    "rtx4090-24gb": "rtx4090",
    "rtx5090-32gb": "rtx5090",
    "a6000-48gb": "rtxa6000",
    "l4-24gb": "l4",
    "l40s-48gb": "l40s",
    "a10g-24gb": "a10g",
    "t4-16gb": "t4",
    "a100-40gb": "a100-40gb",
    "a100-80gb": "a100-80gb",
    "h100-80gb": "h100-80gb",
    "h200-141gb": "h200-141gb",
    "b200-180gb": "b200",
    "mi300x-192gb": "mi300x",
}


def test_the_table_has_the_gpus_the_issue_names() -> None:
    names = target_names()
    for wanted in (
        "rtx4090",
        "rtx5090",
        "a6000",
        "l4-",
        "l40s",
        "a10g",
        "a100-40",
        "a100-80",
        "h100",
        "h200",
        "b200",
        "mi300x",
    ):
        assert any(n.startswith(wanted) for n in names), wanted
    assert names[0] == "cpu" and get_target("cpu").speed == ()


@pytest.mark.parametrize("name", SOURCES)
def test_facts_match_their_sources(name: str) -> None:
    facts = yaml.safe_load(GPUS.read_text())[SOURCES[name]]
    t = get_target(name)
    assert (t.vram_gb, t.compute_capability, t.bf16, t.fp8) == (
        facts["memory_gb"],
        facts["compute_capability"],
        facts["bf16"],
        facts["fp8"],
    )
    assert t.skypilot == facts["skypilot"]
    if facts["flash_attention_3"]:
        assert t.attention == "flash_attention_3"
    elif facts["flash_attention_2"] and name != "mi300x-192gb":  # ROCm: no flash-attn wheel in the install
        assert t.attention == "flash_attention_2"
    else:
        assert t.attention == "sdpa"


@pytest.mark.parametrize("name", target_names())
def test_every_default_can_run_on_its_gpu(name: str) -> None:
    assert capability_problems(get_target(name)) == []


def test_capability_problems_name_the_need() -> None:
    t4 = get_target("t4-16gb", extra={"t4-16gb": {"speed": ["flash_attention"], "attention": "flash_attention_3"}})
    assert capability_problems(t4) == [
        (
            "speed",
            "speed switch 'flash_attention' cannot be on by default for t4-16gb: it needs compute capability sm_80 or newer, not sm_75",
        ),
        ("attention", "flash_attention_3 runs on Hopper (sm_90) only, not sm_75"),
    ]


TEAM = """\
targets:
  lab-l40s:
    description: "Our lab's L40S boxes"
    vram_gb: 46
    bf16: true
    compute_capability: sm_89
    attention: flash_attention_2
    speed: [flash_attention, lora_kernels, liger]
    tflops: 362
    price_per_hour: 0.5
    skypilot: L40S
    packages: [flash-attn]
  h100-80gb: {price_per_hour: 1.5}
"""


def _team_repo(root: Path, team: str = TEAM, target: str = "lab-l40s") -> Path:
    write(root / "team.yaml", team)
    write(root / "data" / "sql.jsonl", (Path("examples/data/sql.jsonl")).read_text())
    return write(
        root / "specs" / "a.yaml",
        f"extends: ../team.yaml\ntask: sql\nbase_model: meta-llama/Llama-3.1-8B-Instruct\n"
        f"datasets: [{{path: ../data/sql.jsonl}}]\ncompute: {{target: {target}}}\n",
    )


def test_a_team_target_is_validated_rendered_planned_and_launched(workdir: Path) -> None:
    spec = _team_repo(workdir / "repo")
    res = run_cli("validate", str(spec))
    assert res.code == 0, res.out + res.err
    assert "target lab-l40s x1" in res.out
    rendered = run_cli("render", str(spec))
    cfg = yaml.safe_load(rendered.out)
    assert cfg["attn_implementation"] == "flash_attention_2" and cfg["liger_rope"] is True
    assert cfg["liger_fused_linear_cross_entropy"] is False  # not in this target's defaults
    plan = json.loads(run_cli("plan", str(spec), "--json").out)["plans"][0]
    assert plan["target"]["limit_gb"] == 46 and plan["time"]["price_per_gpu_hour"] == 0.5
    assert plan["setup"]["loss"] == "full" and plan["setup"]["liger"] is True
    # a built-in target with one field overridden; --target resolves the team's names too
    h100 = json.loads(run_cli("plan", str(spec), "--json", "--target", "h100-80gb:2").out)["plans"][0]
    assert h100["time"]["price_per_gpu_hour"] == 1.5 and h100["target"]["limit_gb"] == 80
    assert run_cli("validate", str(spec), "--target", "lab-l40s:2").code == 0
    out = workdir / "task.yaml"
    res = run_cli("launch", "skypilot", str(spec), "-o", str(out))
    assert res.code == 0, res.err
    task = yaml.safe_load(out.read_text())
    assert task["resources"]["accelerators"] == "L40S:1"
    assert task["setup"].rstrip().endswith("flash-attn")  # the target's own packages are installed there


def test_targets_from_a_file(workdir: Path) -> None:
    root = workdir / "repo"
    write(root / "machines.yaml", yaml.safe_dump(yaml.safe_load(TEAM)["targets"]))
    spec = _team_repo(root, "targets: machines.yaml\n")
    assert run_cli("validate", str(spec)).code == 0
    out = workdir / "task.yaml"
    assert run_cli("launch", "skypilot", str(spec), "-o", str(out)).code == 0
    mounts = yaml.safe_load(out.read_text())["file_mounts"]
    assert mounts["/axowrap/job/machines.yaml"] == str(root / "machines.yaml")  # the remote node reads it too
    (root / "machines.yaml").unlink()
    res = run_cli("validate", str(spec))
    assert res.code == 1 and "targets: cannot read" in res.out and "machines.yaml" in res.out


@pytest.mark.parametrize(
    "team,message",
    [
        (
            "targets:\n  lab: {bf16: true}\n",
            "error: targets.lab: target 'lab': a new target needs 'vram_gb' (GPU memory in GB)",
        ),
        (
            "targets:\n  lab: {vram_gb: 24, compute_capability: sm_75, speed: [flash_attention]}\n",
            "error: targets.lab.speed: speed switch 'flash_attention' cannot be on by default for lab: it needs compute capability sm_80 or newer, not sm_75",
        ),
        (
            "targets:\n  lab: {vram_gb: 24, vram: 3}\n",
            "error: targets.lab.vram: unknown key 'vram'; did you mean 'vram_gb'?",
        ),
    ],
)
def test_bad_team_targets(workdir: Path, team: str, message: str) -> None:
    spec = _team_repo(workdir / "repo", team, target="lab")
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert message in res.out


def test_unknown_target_has_a_did_you_mean(workdir: Path) -> None:
    spec = _team_repo(workdir / "repo", target="lab-l40")
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert "error: compute.target: unknown target 'lab-l40'; did you mean 'lab-l40s'?" in res.out


def test_calibration_file_feeds_the_plan(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cal = write(workdir / "cal.yaml", "targets:\n  a10g-24gb: {mfu: 0.5, overhead_gb: 3.0, runs: [x]}\n")
    monkeypatch.setenv("AXOWRAP_CALIBRATION", str(cal))
    plan = json.loads(run_cli("plan", "examples/sql.yaml", "--json", "--no-data").out)["plans"][0]
    assert plan["memory_gb"]["overhead"] == 3.0
    assert "50% utilization (calibrated" in plan["time"]["throughput_source"]
    assert "a10g-24gb" in profiles() and get_target("a10g-24gb").origin["mfu"] == str(cal)
