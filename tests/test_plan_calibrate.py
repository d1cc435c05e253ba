"""`plan --from-run` and `plan --calibrate`: a real run directory (prepared by `axowrap run
--dry-run`) whose train log holds Axolotl's log dicts as a GPU run prints them. A GPU is a
boundary this machine cannot reach, so the log is written here in Axolotl's own format
(AxolotlTrainer.log: `memory/max_allocated (GiB)`, `memory/device_reserved (GiB)`,
`tokens/total`, then the summary's `train_runtime`). A CPU run trained for real is checked in
tests/test_train.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write
from helpers import run_cli

from axowrap.plan.families import from_table
from axowrap.plan.memory import GB

GIB = 2**30
LINES = [
    "{'loss': '1.9', 'grad_norm': '0.4', 'learning_rate': '0.0002', 'memory/max_active (GiB)': '17.0', "
    "'memory/max_allocated (GiB)': '17.0', 'memory/device_reserved (GiB)': '18.0', 'tokens/train_per_sec_per_gpu': '180.0', "
    "'tokens/trainable': 2000, 'tokens/total': 20480, 'epoch': '0.5'}",
    " 50%|█████     | 1/2 [00:50<00:50, 50.00s/it]",
    "{'loss': '1.7', 'grad_norm': '0.3', 'learning_rate': '0.0001', 'memory/max_active (GiB)': '17.5', "
    "'memory/max_allocated (GiB)': '17.5', 'memory/device_reserved (GiB)': '18.5', 'tokens/train_per_sec_per_gpu': '190.0', "
    "'tokens/trainable': 4000, 'tokens/total': 40960, 'epoch': '1.0'}",
    "{'train_runtime': '100.0', 'train_samples_per_second': '0.4', 'train_steps_per_second': '0.02', 'train_loss': '1.8', 'epoch': '1.0'}",
]


def gpu_run(workdir: Path) -> Path:
    write(
        workdir / "cal.yaml",
        "task: sql\nname: cal\nbase_model: meta-llama/Llama-3.1-8B-Instruct\n"
        "datasets: [{path: examples/data/sql.jsonl}]\ncompute: {target: a10g-24gb}\n",
    )
    res = run_cli("run", "cal.yaml", "--dry-run", "--runs-dir", "runs")
    assert res.code == 0, res.err
    [run] = list((workdir / "runs").iterdir())
    write(run / "logs" / "train.log", "\n".join(LINES) + "\n")
    return run


def test_from_run_prints_plan_vs_measured(workdir: Path) -> None:
    run = gpu_run(workdir)
    res = run_cli("plan", "--from-run", str(run), "--json")
    assert res.code == 0, res.err
    found = json.loads(res.out)
    assert found["target"] == "a10g-24gb" and found["steps"] == 2
    assert found["measured_peak_reserved_gb"] == round(18.5 * GIB / GB, 2)
    assert found["measured_peak_allocated_gb"] == round(17.5 * GIB / GB, 2)
    assert found["measured_tokens_per_s"] == round(40960 / 100.0)  # token slots over the trainer's runtime
    plan_total = found["plan_total_gb"]
    assert found["memory_ratio"] == round(18.5 * GIB / GB / plan_total, 3)
    text = run_cli("plan", "--from-run", str(run)).out
    assert (
        f"peak memory: plan {plan_total:.2f} GB" in text and "measured 19.86 GB reserved / 18.79 GB allocated" in text
    )
    assert "throughput: plan " in text and "measured 410 tokens/s per GPU" in text


def test_calibrate_fits_overhead_and_utilization(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = gpu_run(workdir)
    before = json.loads(run_cli("plan", "cal.yaml", "--no-data", "--json").out)["plans"][0]
    cal = workdir / "calibration.yaml"
    monkeypatch.setenv("AXOWRAP_CALIBRATION", str(cal))
    res = run_cli("plan", "--calibrate", str(run))
    assert res.code == 0, res.err
    entry = yaml.safe_load(cal.read_text())["targets"]["a10g-24gb"]
    # by hand: overhead = measured reserved peak - every other component of the run's plan
    others = before["total_gb"] - before["memory_gb"]["overhead"]
    assert entry["overhead_gb"] == pytest.approx(18.5 * GIB / GB - others, abs=0.02)
    # utilization = measured tokens/s x FLOPs per token / the A10G's 70 TFLOPs (LoRA 4 + recompute 2)
    params = from_table("meta-llama/Llama-3.1-8B-Instruct").active_params  # type: ignore[union-attr]
    assert entry["mfu"] == pytest.approx(409.6 * 6 * params / 70e12, abs=0.001)
    assert entry["runs"] == [str(run.resolve())]
    assert f"a10g-24gb: overhead_gb {entry['overhead_gb']}, mfu {entry['mfu']} (from 1 run(s))" in res.out
    # later plans use them: the total moves to the measured peak, the throughput to the measured rate
    after = json.loads(run_cli("plan", "cal.yaml", "--no-data", "--json").out)["plans"][0]
    assert after["total_gb"] == pytest.approx(18.5 * GIB / GB, abs=0.03)
    assert after["time"]["tokens_per_s_per_gpu"] == pytest.approx(409.6, abs=2)
    assert "(calibrated" in after["time"]["throughput_source"]


def test_calibrate_refuses_what_it_cannot_fit(workdir: Path) -> None:
    run = gpu_run(workdir)
    write(run / "logs" / "train.log", "starting\n")
    res = run_cli("plan", "--calibrate", str(run))
    assert res.code == 1 and "no training step was logged" in res.err
    res = run_cli("plan", "--from-run", str(workdir / "nope"))
    assert res.code == 2 and "not a run directory" in res.err
    res = run_cli("plan")
    assert res.code == 2 and "give one of: SPEC, --from-run RUN, --calibrate RUN..." in res.err
