"""Strategy keys in the rendered config, the ZeRO/FSDP/accelerate files, and Axolotl's own
validation of multi-GPU / multi-node configs for a target."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, write
from helpers import run_cli

from axowrap.config.render import render_spec
from axowrap.distributed import deepspeed
from axowrap.distributed.accelerate_config import accelerate_config
from axowrap.distributed.strategy import CPU_DDP_PLUGIN, axolotl_keys, layout, support_files
from axowrap.run.launch import launch_argv
from axowrap.validate import load_spec

SPEC = """\
task: sql
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
datasets: [{{path: data/sql.jsonl}}]
compute: {compute}
{extra}"""


def make_spec(folder: Path, compute: str, extra: str = "", name: str = "big.yaml") -> Path:
    shutil.copytree(EXAMPLES / "data", folder / "data", dirs_exist_ok=True)
    return write(folder / name, SPEC.format(compute=compute, extra=extra))


def compute(**kw: object) -> dict:
    """An effective spec's `compute:` (every key present, as after the presets)."""
    return {"compute": {"target": "h100-80gb", "gpus_per_node": 1, "nodes": 1, "strategy": "ddp", **kw}}


@pytest.mark.parametrize(
    ("strategy", "offload", "stage"),
    [("zero1", False, 1), ("zero2", False, 2), ("zero3", False, 3), ("zero3", True, 3)],
)
def test_zero_keys_and_file(strategy: str, offload: bool, stage: int) -> None:
    spec = compute(gpus_per_node=8, nodes=2, strategy=strategy, offload="cpu" if offload else "none")
    keys = axolotl_keys(spec)
    name = keys["deepspeed"]
    assert name == f"deepspeed-{strategy}{'-offload' if offload else ''}.json"
    assert strategy in name  # Axolotl recognises ZeRO-3 by "zero3" in the path
    files = support_files(spec)
    assert list(files) == [name]
    ds = json.loads(files[name])
    zero = ds["zero_optimization"]
    assert zero["stage"] == stage
    assert ("offload_optimizer" in zero) is offload
    assert ("offload_param" in zero) is (offload and stage == 3)
    assert ds["train_micro_batch_size_per_gpu"] == "auto"  # the Trainer fills it from the config
    if stage == 3:
        assert zero["stage3_gather_16bit_weights_on_model_save"] is True
    assert files[name] == deepspeed.zero_json(strategy, offload)  # deterministic


def test_fsdp2_keys() -> None:
    keys = axolotl_keys(compute(gpus_per_node=8, strategy="fsdp2", offload="cpu"))
    assert keys["fsdp_version"] == 2
    assert keys["fsdp_config"]["offload_params"] is True
    assert keys["fsdp_config"]["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert support_files(compute(gpus_per_node=8, strategy="fsdp2")) == {}


def test_one_process_has_no_keys_and_cpu_ddp_has_the_plugin() -> None:
    assert axolotl_keys(compute()) == {}
    assert axolotl_keys(compute(gpus_per_node=8)) == {}  # plain DDP on GPUs: nothing to add
    assert axolotl_keys(compute(target="cpu", gpus_per_node=2)) == {"plugins": [CPU_DDP_PLUGIN]}
    assert layout(compute(target="cpu", nodes=2)).world_size == 2


def test_accelerate_config_counts_processes_over_all_nodes() -> None:
    cfg = accelerate_config(layout(compute(gpus_per_node=8, nodes=2, strategy="zero3")), "10.0.0.1", 29500)
    assert (cfg["num_machines"], cfg["num_processes"], cfg["machine_rank"]) == (2, 16, 0)
    assert (cfg["main_process_ip"], cfg["main_process_port"], cfg["rdzv_backend"]) == ("10.0.0.1", 29500, "static")
    assert cfg["distributed_type"] == "MULTI_GPU"


def test_launch_argv_single_process_is_unchanged(tmp_path: Path) -> None:
    argv, env = launch_argv(compute(target="cpu"), tmp_path / "axolotl.yaml")
    assert argv[1:] == [
        "launch",
        "--num_processes",
        "1",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--cpu",
        "-m",
        "axowrap.run.train_main",
        str(tmp_path / "axolotl.yaml"),
    ]
    assert "ACCELERATE_USE_CPU" not in env
    assert list(tmp_path.iterdir()) == []


def test_launch_argv_multi_node_writes_files_and_takes_rank_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AXOWRAP_MACHINE_RANK", "1")
    monkeypatch.setenv("AXOWRAP_MAIN_PROCESS_IP", "10.1.2.3")
    monkeypatch.setenv("AXOWRAP_MAIN_PROCESS_PORT", "29700")
    spec = compute(gpus_per_node=8, nodes=2, strategy="zero3")
    config = tmp_path / "axolotl.yaml"
    argv, env = launch_argv(spec, config)
    assert argv[:4] == [sys.executable, "-m", "axowrap", "_envcheck"]
    check, launch = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    assert check[4:] == [str(tmp_path), "--rank", "1", "--nodes", "2", "--main-ip", "10.1.2.3", "--port", "29701"]
    assert launch[1:] == [
        "launch",
        "--config_file",
        str(tmp_path / "accelerate.yaml"),
        "--machine_rank",
        "1",
        "--main_process_ip",
        "10.1.2.3",
        "--main_process_port",
        "29700",
        "-m",
        "axowrap.run.train_main",
        str(config),
    ]
    acc = yaml.safe_load((tmp_path / "accelerate.yaml").read_text())
    assert (acc["num_processes"], acc["num_machines"]) == (16, 2)
    assert json.loads((tmp_path / "deepspeed-zero3.json").read_text())["zero_optimization"]["stage"] == 3
    assert "ACCELERATE_USE_CPU" not in env


def test_rendered_config_carries_the_strategy(tmp_path: Path) -> None:
    spec = load_spec(make_spec(tmp_path, "{target: h100-80gb, gpus_per_node: 8, nodes: 2, strategy: zero3}"))
    rendered = render_spec(spec, base_dir=tmp_path)
    assert rendered.config["deepspeed"] == "deepspeed-zero3.json"
    assert "# --- 8 process(es) x 2 node(s)" in rendered.text
    assert rendered.text == render_spec(spec, base_dir=tmp_path).text
    fsdp = render_spec(
        load_spec(make_spec(tmp_path, "{target: h100-80gb, gpus_per_node: 8, strategy: fsdp2}", name="f.yaml"))
    )
    assert fsdp.config["fsdp_version"] == 2 and "deepspeed" not in fsdp.config
    cpu = render_spec(load_spec(make_spec(tmp_path, "{target: cpu, gpus_per_node: 2}", name="c.yaml")))
    assert cpu.config["plugins"] == [CPU_DDP_PLUGIN]


def test_strategy_on_cpu_is_refused(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "{target: cpu, gpus_per_node: 2, strategy: zero3}")
    res = run_cli("validate", str(spec))
    assert res.code == 1
    assert "zero3 needs GPUs; on CPU only ddp runs" in res.out + res.err


@pytest.mark.axolotl
@pytest.mark.parametrize("strategy", ["zero3", "fsdp2"])
def test_deep_validation_accepts_sharding_on_16_h100(tmp_path: Path, strategy: str) -> None:
    spec = make_spec(tmp_path, f"{{target: h100-80gb, gpus_per_node: 8, nodes: 2, strategy: {strategy}}}")
    res = run_cli("validate", "--deep", str(spec))
    assert res.code == 0, res.out + res.err
    assert "target h100-80gb x8, deep" in res.out + res.err


@pytest.mark.axolotl
def test_deep_validation_reports_bad_combination(tmp_path: Path) -> None:
    # FSDP1 with Axolotl's LoRA kernels across 16 GPUs: Axolotl refuses it (only for n_gpu > 1).
    spec = make_spec(
        tmp_path,
        "{target: h100-80gb, gpus_per_node: 8, nodes: 2, strategy: fsdp2}",
        extra="axolotl: {fsdp_version: 1}\n",
    )
    res = run_cli("validate", "--deep", str(spec))
    assert res.code == 1
    assert "not compatible with FSDP1" in res.out + res.err
    one = make_spec(
        tmp_path,
        "{target: h100-80gb, gpus_per_node: 1, strategy: fsdp2}",
        extra="axolotl: {fsdp_version: 1}\n",
        name="one.yaml",
    )
    assert "not compatible with FSDP1" not in (lambda r: r.out + r.err)(run_cli("validate", "--deep", str(one)))


def test_spec_warnings_for_layouts(tmp_path: Path) -> None:
    one = make_spec(tmp_path, "{target: h100-80gb, gpus_per_node: 1, strategy: zero3}", name="one.yaml")
    res = run_cli("validate", str(one))
    assert res.code == 0
    assert "compute.strategy: zero3 on one GPU has nothing to shard over" in res.out + res.err
    offload = make_spec(
        tmp_path, "{target: h100-80gb, gpus_per_node: 1, strategy: zero3, offload: cpu}", name="off.yaml"
    )
    assert "nothing to shard" not in (lambda r: r.out + r.err)(run_cli("validate", str(offload)))
    wide = make_spec(tmp_path, "{target: h100-80gb, gpus_per_node: 16}", name="wide.yaml")
    res = run_cli("validate", str(wide))
    assert "16 GPUs per node: most h100-80gb machines have at most 8" in res.out + res.err
    assert "gpus_per_node: 8, nodes: 2" in res.out + res.err


def test_one_gpu_zero3_offload_still_gets_its_json(tmp_path: Path) -> None:
    spec = compute(gpus_per_node=1, strategy="zero3", offload="cpu")
    argv, _ = launch_argv(spec, tmp_path / "axolotl.yaml")
    assert argv[1:5] == ["launch", "--num_processes", "1", "--num_machines"]
    assert (
        json.loads((tmp_path / "deepspeed-zero3-offload.json").read_text())["zero_optimization"]["offload_param"][
            "device"
        ]
        == "cpu"
    )
