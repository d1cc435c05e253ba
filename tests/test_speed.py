"""Speed switches per target: rendered as data from the target table, off with a note where the
GPU, trainer or model rules one out, switchable in the spec, proved by Axolotl's own validator
for every preset on every GPU target, and the integrations' model lists read from the installed
packages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write
from helpers import run_cli

from axowrap.config.render import render_spec
from axowrap.config.speed import resolve
from axowrap.speed import LIGER_PLUGIN, support
from axowrap.targets import get_target, target_names
from axowrap.validate import load_spec, validate_path

TASKS = ("chat", "classify", "completion", "dpo", "function-calling", "instruct", "orpo", "sql", "summarize")
GPU_TARGETS = [t for t in target_names() if t != "cpu"]
SWITCH_KEYS = ("plugins", "liger_rope", "liger_fused_linear_cross_entropy", "cut_cross_entropy", "torch_compile")


def _spec(folder: Path, extra: str = "", model: str = "HuggingFaceTB/SmolLM2-135M-Instruct") -> Path:
    return write(
        folder / "s.yaml", f"task: sql\nbase_model: {model}\ndatasets: [{{path: examples/data/sql.jsonl}}]\n{extra}"
    )


@pytest.mark.parametrize("task", TASKS)
def test_cpu_renders_no_speed_switch(task: str, workdir: Path) -> None:
    cfg = render_spec(load_spec(f"examples/{task}.yaml"), target=get_target("cpu")).config
    assert not [k for k in cfg if k in SWITCH_KEYS]
    assert cfg["attn_implementation"] == "sdpa" and cfg.get("lora_mlp_kernel") in (False, None)


def test_each_gpu_gets_its_table_defaults(workdir: Path) -> None:
    spec = load_spec(_spec(workdir))
    a10g = render_spec(spec, target=get_target("a10g-24gb")).config
    assert a10g["plugins"] == [LIGER_PLUGIN] and a10g["liger_fused_linear_cross_entropy"] is True
    assert a10g["attn_implementation"] == "flash_attention_2" and a10g["lora_qkv_kernel"] is True
    h100 = render_spec(spec, target=get_target("h100-80gb")).config
    assert h100["attn_implementation"] == "flash_attention_3"
    mi300x = render_spec(spec, target=get_target("mi300x-192gb")).config
    assert (
        mi300x["attn_implementation"] == "sdpa" and mi300x["lora_qkv_kernel"] is False and mi300x["liger_rope"] is True
    )
    t4 = render_spec(spec, target=get_target("t4-16gb")).config
    assert t4["attn_implementation"] == "sdpa" and t4["fp16"] is True and t4["liger_rope"] is True


def test_the_spec_switches_each_one(workdir: Path) -> None:
    spec = load_spec(
        _spec(workdir, "speed: {liger: false, flash_attention: false, lora_kernels: false, compile: true}\n")
    )
    cfg = render_spec(spec, target=get_target("a100-80gb")).config
    assert cfg["attn_implementation"] == "sdpa" and cfg["lora_mlp_kernel"] is False and cfg["torch_compile"] is True
    assert cfg["liger_rope"] is False and cfg["liger_fused_linear_cross_entropy"] is True  # the loss stays
    cce = render_spec(load_spec(_spec(workdir, "speed: {cut_cross_entropy: true}\n")), target=get_target("a100-80gb"))
    assert cce.config["plugins"] == [LIGER_PLUGIN, "axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin"]
    assert cce.config["cut_cross_entropy"] is True and cce.config["liger_fused_linear_cross_entropy"] is False


def test_unsupported_model_type_turns_liger_off_with_a_note(workdir: Path) -> None:
    model = workdir / "falcon"
    dims = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 256,
        "num_attention_heads": 4,
        "vocab_size": 512,
    }
    write(model / "config.json", json.dumps({"model_type": "falcon", **dims}))
    no_gguf = "export: {gguf: null}\n"  # the folder holds no tokenizer to convert
    rendered = render_spec(load_spec(_spec(workdir, no_gguf, model="./falcon")), target=get_target("a10g-24gb"))
    assert "plugins" not in rendered.config and rendered.config["attn_implementation"] == "flash_attention_2"
    note = (
        "speed: liger off (Liger 0.8.1 (MODEL_TYPE_TO_APPLY_LIGER_FN) with Axolotl's LigerPlugin has no liger support "
        "for model type 'falcon')"
    )
    assert note in rendered.notes and f"# {note}\n" in rendered.text
    # the plan counts what is rendered: full logits
    plan = json.loads(run_cli("plan", "s.yaml", "--no-data", "--json").out)["plans"][0]
    assert plan["setup"]["loss"] == "full" and note in plan["notes"]


def test_a_note_cannot_break_out_of_its_comment(workdir: Path) -> None:
    model = workdir / "odd"
    write(model / "config.json", json.dumps({"model_type": "x\nplugins: [evil]"}))
    rendered = render_spec(
        load_spec(_spec(workdir, "export: {gguf: null}\n", model="./odd")), target=get_target("a10g-24gb")
    )
    assert "plugins" not in rendered.config  # the model type's newline stayed inside the comment
    assert "# speed: liger off" in rendered.text and "\nplugins: [evil]" not in rendered.text


def test_preference_trainers_keep_full_logits(workdir: Path) -> None:
    speed = resolve(load_spec("examples/dpo.yaml"), get_target("a10g-24gb"))
    assert speed.on["liger"] and not speed.on["fused_cross_entropy"] and not speed.on["lora_kernels"]
    assert speed.notes == [
        "speed: lora_kernels off (Axolotl does not use its LoRA kernels with the dpo trainer)",
        "speed: fused_cross_entropy off (the dpo trainer computes its loss from the full logits (Liger's fused loss serves SFT))",
    ]


@pytest.mark.parametrize(
    "extra,target,message",
    [
        (
            "speed: {flash_attention: true}\n",
            "t4-16gb",
            "error: speed.flash_attention: flash_attention cannot be on: t4-16gb: it needs compute capability sm_80 or newer, not sm_75",
        ),
        (
            "method: full\nspeed: {lora_kernels: true}\n",
            "a10g-24gb",
            "error: speed.lora_kernels: lora_kernels cannot be on: a full fine-tune has no LoRA layers",
        ),
        (
            "axolotl: {load_in_8bit: true}\nspeed: {lora_kernels: true}\n",
            "a10g-24gb",
            "error: speed.lora_kernels: lora_kernels cannot be on: Axolotl refuses its LoRA kernels with 8-bit LoRA",
        ),
        (
            "speed: {cut_cross_entropy: true}\n",
            "mi300x-192gb",
            "error: speed.cut_cross_entropy: cut_cross_entropy cannot be on: mi300x-192gb: it needs an NVIDIA (CUDA) GPU, not gfx942",
        ),
    ],
)
def test_asking_for_what_cannot_run_is_an_error(workdir: Path, extra: str, target: str, message: str) -> None:
    _spec(workdir, extra + f"compute: {{target: {target}}}\n")
    res = run_cli("validate", "s.yaml")
    assert res.code == 1 and message in res.out


def test_the_plan_counts_the_switches(workdir: Path) -> None:
    _spec(workdir, model="meta-llama/Llama-3.1-8B-Instruct")
    on = json.loads(run_cli("plan", "s.yaml", "--no-data", "--json", "--target", "a100-80gb").out)["plans"][0]
    off = json.loads(run_cli("plan", "s.yaml", "--no-data", "--json", "--target", "cpu").out)["plans"][
        0
    ]  # cpu: no switch, fp32
    assert on["setup"]["loss"] == "fused" and off["setup"]["loss"] == "full"
    # 2 x 1024 tokens: Liger's 8 bytes per hidden unit (4096) instead of 12 per vocab entry (128256)
    assert on["memory_gb"]["logits"] == pytest.approx(2 * 1024 * 8 * 4096 / 1e9, abs=0.01)
    assert off["memory_gb"]["logits"] == pytest.approx(2 * 1024 * 12 * 128256 / 1e9, abs=0.01)


@pytest.mark.axolotl
@pytest.mark.parametrize("target", GPU_TARGETS)
def test_axolotl_accepts_every_preset_on_every_gpu_target(target: str, workdir: Path) -> None:
    """Axolotl's own validate_config, with the speed plugins registered, for each target's
    capabilities; and no speed switch needs a package outside the target's install."""
    for task in TASKS:
        report = validate_path(Path(f"examples/{task}.yaml"), target=target, deep=True)
        errors = [p.render() for p in report.problems if p.severity == "error"]
        assert errors == [], (task, errors)


@pytest.mark.axolotl
def test_deep_names_a_package_missing_from_the_install(workdir: Path) -> None:
    _spec(workdir, "speed: {cut_cross_entropy: true}\ncompute: {target: h100-80gb}\n")
    report = validate_path(Path("s.yaml"), deep=True)
    [problem] = [p for p in report.problems if p.severity == "error"]
    assert problem.render().startswith(
        "s.yaml:4:9: error: speed.cut_cross_entropy: cut_cross_entropy needs the package cut-cross-entropy, which is "
        "not in the install of h100-80gb (axowrap[train] and the target's `packages:`)"
    )
    assert "git+https://github.com/axolotl-ai-cloud/ml-cross-entropy.git" in (problem.hint or "")
    # a team target whose install has it: Axolotl's validator then accepts the combination
    write(
        workdir / "s.yaml", (workdir / "s.yaml").read_text() + "targets: {h100-80gb: {packages: [cut-cross-entropy]}}\n"
    )
    report = validate_path(Path("s.yaml"), deep=True)
    assert [p.render() for p in report.problems if p.severity == "error"] == []


@pytest.mark.axolotl
def test_deep_refuses_both_fused_losses_through_axolotl(workdir: Path) -> None:
    """Written by hand (not through `speed:`): Axolotl's own validator refuses the pair."""
    cfg = yaml.safe_load(render_spec(load_spec(_spec(workdir)), target=get_target("h100-80gb")).text)
    cfg["plugins"].append("axolotl.integrations.cut_cross_entropy.CutCrossEntropyPlugin")
    cfg["cut_cross_entropy"] = True
    write(workdir / "hand.axolotl.yaml", yaml.safe_dump(cfg))
    report = validate_path(Path("hand.axolotl.yaml"), target="h100-80gb", deep=True)
    messages = [p.message for p in report.problems if p.severity == "error"]
    assert any("Only one cross entropy optimization can be enabled at a time" in m for m in messages), messages


@pytest.mark.axolotl
def test_support_lists_are_read_from_the_installed_packages() -> None:
    from axowrap.config.speedgen import build, dump
    from axowrap.resources import schema_file

    assert dump(build()) == schema_file("axolotl-0.19.0.speed.json").read_text()
    assert "llama" in support()["supported"]["liger"] and "qwen3_moe" in support()["supported"]["liger"]
