"""The resource plan: model shapes, memory by component, calibration against published
figures, recommendations, time/cost/disk, the CLI and the validate warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from axowrap.errors import AxowrapError
from axowrap.plan.families import families, from_config, from_table, model_dims
from axowrap.plan.memory import GB, Setup, adapter_params, estimate
from axowrap.plan.recommend import recommend

# Parameter counts as published on each model card (billions).
PUBLISHED_PARAMS = {
    "meta-llama/Llama-3.1-8B-Instruct": 8.03,
    "meta-llama/Llama-3.2-1B": 1.24,
    "meta-llama/Llama-3.2-3B-Instruct": 3.21,
    "meta-llama/Llama-3.3-70B-Instruct": 70.6,
    "Qwen/Qwen2.5-7B-Instruct": 7.61,
    "Qwen/Qwen2.5-0.5B": 0.49,
    "Qwen/Qwen3-8B": 8.2,
    "Qwen/Qwen3-0.6B": 0.6,
    "mistralai/Mistral-7B-Instruct-v0.3": 7.25,
    "google/gemma-2-9b-it": 9.24,
    "google/gemma-2-2b": 2.61,
    "microsoft/Phi-3-mini-4k-instruct": 3.82,
    "microsoft/phi-4": 14.7,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 0.135,
    "HuggingFaceTB/SmolLM2-1.7B": 1.71,
    "meta-llama/Llama-2-7b-hf": 6.74,
}

# Published figures (LLaMA-Factory's README "hardware requirement" table, estimated, GB; rows
# full (pure_bf16), freeze/LoRA 16, QLoRA 8, QLoRA 4; columns 7B, 14B, 30B, 70B). The full row
# is "pure_bf16" (8 bytes per parameter: bf16 weights, gradients and AdamW moments): what
# Axolotl does, since it loads the model in bf16 when `bf16` is on and keeps no fp32 master
# copy (axolotl/utils/config/__init__.py: `if cfg.bf16: cfg.torch_dtype = torch.bfloat16`).
# Its "Full (bf16 AMP) 120 GB" row (16 bytes per parameter) is not what Axolotl runs.
SEED = {"full": 60.0, "lora": 16.0}
LLAMA_FACTORY = {  # method, bits -> GB for 7B, 14B, 30B, 70B
    ("full", 16): (60, 120, 300, 600),
    ("lora", 16): (16, 32, 64, 160),
    ("qlora", 8): (10, 20, 40, 80),
    ("qlora", 4): (6, 12, 24, 48),
}
SIZES = ("llama-2-7b", "qwen2.5-14b", "qwen2.5-32b", "llama-2-70b")  # models standing in for 7B/14B/30B/70B
SMALL = dict(micro_batch=1, sequence_len=512)  # the anchors give no batch; a small one keeps activations minor


@pytest.mark.parametrize("model,billions", PUBLISHED_PARAMS.items())
def test_table_dims_give_published_parameter_counts(model: str, billions: float) -> None:
    dims = from_table(model)
    assert dims is not None
    assert dims.params / 1e9 == pytest.approx(billions, rel=0.02)


def test_every_family_in_the_table_has_sane_dims() -> None:
    for family in families():
        dims = family.dims
        assert dims.hidden % dims.heads == 0 or dims.head_dim or dims.mla
        assert dims.heads % dims.kv_heads == 0, dims.name


def test_local_config_wins_and_unknown_is_a_clear_error(tmp_path: Path) -> None:
    cfg = {
        "model_type": "llama",
        "hidden_size": 256,
        "num_hidden_layers": 2,
        "intermediate_size": 256,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 512,
        "tie_word_embeddings": False,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    dims = model_dims("whatever/Llama-3.1-8B", tmp_path)
    assert (dims.hidden, dims.layers, dims.kv_dim, dims.source) == (256, 2, 128, str(tmp_path / "config.json"))
    assert dims.params == 2 * (256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 256) + 2 * 512 * 256 + 5 * 256
    with pytest.raises(AxowrapError, match="cannot size base model 'acme/secret-model': its config.json is not in"):
        model_dims("acme/secret-model")
    (tmp_path / "config.json").write_text(json.dumps({"text_config": {**cfg, "hidden_size": 512}}))
    assert from_config(tmp_path / "config.json").hidden == 512


def test_seed_figures_within_15_percent() -> None:
    dims = from_table("llama-2-7b")
    full = estimate(dims, Setup(method="full", optimizer="adamw_torch", **SMALL))
    lora = estimate(dims, Setup(method="lora", **SMALL))
    assert full.total / GB == pytest.approx(SEED["full"], rel=0.15)
    assert lora.total / GB == pytest.approx(SEED["lora"], rel=0.15)
    # what we actually reach (asserted, so a formula change that drifts shows here)
    assert abs(full.total / GB / SEED["full"] - 1) < 0.08
    assert abs(lora.total / GB / SEED["lora"] - 1) < 0.03
    # pure bf16: 2 (weights) + 2 (gradients) + 4 (two bf16 AdamW moments) bytes per parameter
    states = full.components["weights"] + full.components["gradients"] + full.components["optimizer"]
    assert states / dims.params == 8
    # on CPU (fp32): 4 + 4 + 8
    cpu = estimate(dims, Setup(method="full", optimizer="adamw_torch", bits=32, **SMALL))
    assert (cpu.components["weights"] + cpu.components["gradients"] + cpu.components["optimizer"]) / dims.params == 16


@pytest.mark.parametrize("key", LLAMA_FACTORY)
def test_llama_factory_table_within_stated_tolerance(key: tuple[str, int]) -> None:
    """The stated tolerance: within 20% of each published figure (issue 19). Measured over all
    16 cells: QLoRA 4-bit at 14B is the worst, +19% (a 152K vocabulary's logits); the 30B
    column uses a 32.8B model, the full fine-tune there is -12%."""
    method, bits = key
    for name, published in zip(SIZES, LLAMA_FACTORY[key], strict=True):
        setup = Setup(method=method, bits=bits, optimizer="adamw_torch", **SMALL)
        got = estimate(from_table(name), setup).total / GB
        assert got == pytest.approx(published, rel=0.20), (name, method, bits, got)


def test_lora_param_count_matches_peft_formula() -> None:
    dims = from_table("meta-llama/Llama-3.1-8B")
    # r * (in + out) summed over q,k,v,o,gate,up,down, times 32 layers (PEFT reports 41.9M at r=16)
    assert adapter_params(dims, Setup(lora_r=16)) == 41_943_040
    assert adapter_params(dims, Setup(lora_r=8, lora_targets=("q_proj", "v_proj"))) == 3_407_872
    assert adapter_params(dims, Setup(method="dora", lora_r=16)) > 41_943_040


def test_components_move_the_right_way() -> None:
    dims = from_table("Qwen/Qwen2.5-7B")
    base = Setup(micro_batch=4, sequence_len=4096)
    e = estimate(dims, base)
    assert estimate(dims, base.but(checkpointing=False)).components["activations"] > 5 * e.components["activations"]
    assert estimate(dims, base.but(method="qlora", bits=4)).components["weights"] < 0.4 * e.components["weights"]
    full = base.but(method="full")
    assert estimate(dims, full.but(optimizer="adamw_8bit")).components["optimizer"] == pytest.approx(
        estimate(dims, full).components["optimizer"] * 2 / 4  # 8-bit states vs bf16 moments
    )
    z = estimate(dims, full.but(gpus=8, strategy="zero3"))
    assert z.components["weights"] == pytest.approx(estimate(dims, full).components["weights"] / 8)
    z1 = estimate(dims, full.but(gpus=8, strategy="zero1"))
    assert z1.components["weights"] == estimate(dims, full).components["weights"]
    assert z1.components["optimizer"] == pytest.approx(estimate(dims, full).components["optimizer"] / 8)


def test_recommendations_each_with_new_estimate() -> None:
    dims = from_table("meta-llama/Llama-3.1-8B")
    setup = Setup(method="lora", micro_batch=8, sequence_len=4096, checkpointing=False)
    recs = recommend(dims, setup, 24 * GB)
    changes = [r.change for r in recs]
    assert changes[:4] == [
        "method: qlora (4-bit base) instead of lora",
        "micro_batch_size 4 with gradient_accumulation_steps 8 (same effective batch)",
        "gradient_checkpointing: true",
        "optimizer: adamw_8bit",
    ]
    for r in recs:
        assert r.estimate.total == estimate(dims, r.setup).total
        assert r.fits == (r.estimate.total <= 24 * GB)
    assert any(r.fits for r in recs)


def test_more_gpus_when_nothing_else_fits() -> None:
    dims = from_table("meta-llama/Llama-3.1-70B")
    recs = recommend(dims, Setup(method="full", micro_batch=1, sequence_len=1024), 80 * GB)
    last = recs[-1]
    assert last.fits and "GPUs with compute.strategy: zero3" in last.change and last.setup.gpus in (2, 4, 8, 16)


def write_spec(folder: Path, model: str, extra: str = "") -> Path:
    spec = folder / "big.yaml"
    spec.write_text(
        f"task: sql\nbase_model: {model}\ndatasets: [{{path: examples/data/sql.jsonl}}]\n{extra}", encoding="utf-8"
    )
    return spec


def test_cli_plan_json(workdir: Path) -> None:
    write_spec(workdir, "meta-llama/Llama-3.3-70B-Instruct", "method: full\ncompute: {target: a10g-24gb}\n")
    res = run_cli("plan", "big.yaml", "--target", "a10g-24gb", "--target", "h100-80gb:8", "--json", "--price", "2")
    assert res.code == 1 and "does not fit: a10g-24gb, h100-80gb" in res.err
    plans = json.loads(res.out)["plans"]
    assert [p["target"]["name"] for p in plans] == ["a10g-24gb", "h100-80gb"]
    a10g = plans[0]
    assert set(a10g["memory_gb"]) == {"weights", "gradients", "optimizer", "activations", "logits", "overhead"}
    assert not a10g["fits"] and a10g["headroom_gb"] < 0 and a10g["verdict"] == "does not fit"
    low, high = a10g["total_gb_range"]
    assert low < a10g["total_gb"] < high
    t = a10g["time"]
    assert t["tokens"] > 0 and t["price_per_gpu_hour"] == 2 and t["cost"] == pytest.approx(t["gpu_hours"] * 2, abs=0.01)
    assert t["hours_range"][0] < t["hours"] < t["hours_range"][1]
    h100 = plans[1]["recommendations"]
    assert any(r["fits"] and r["change"].startswith("compute.strategy: zero3") for r in h100)
    assert "gguf q4_k_m" in a10g["disk_gb"] and a10g["disk_gb"]["gguf q4_k_m"] == pytest.approx(
        70.55 * 4.85 / 8, rel=0.01
    )


def test_cli_plan_shows_the_paged_optimizer_apart(workdir: Path) -> None:
    """paged_adamw_8bit's state (2 bytes x 8.03B parameters) is its own line, not in the total;
    on 48 GB the GPU has no room for all of it, on 80 GB it has."""
    write_spec(workdir, "meta-llama/Llama-3.1-8B-Instruct", "method: full\ntraining: {optimizer: paged_adamw_8bit}\n")
    res = run_cli("plan", "big.yaml", "--no-data", "--target", "l40s-48gb:4", "--target", "a100-80gb")
    assert res.code == 0, res.err
    assert "16.06 (not in the total: can spill to CPU RAM)" in res.out
    assert (
        "paged: paged_adamw_8bit keeps 16.06 GB of optimizer state per GPU in CUDA unified memory, outside the total: "
        "2.59 GB of it in CPU RAM at the peak (steps wait on PCIe while it pages back); CPU RAM it may need: up to "
        "16.06 GB per GPU (64.24 GB for all the GPUs of a node)" in res.out
    )
    assert (
        "outside the total: the GPU has room for all of it beside the total; CPU RAM it may need: up to 16.06 GB per GPU\n"
        in res.out
    )
    plans = json.loads(run_cli("plan", "big.yaml", "--no-data", "--target", "l40s-48gb:4", "--json").out)["plans"]
    assert plans[0]["paged_gb"] == {"optimizer_gb": 16.06, "spill_gb": 2.59, "cpu_ram_gb_per_node": 64.24}
    assert plans[0]["memory_gb"]["optimizer"] == 0.0  # the norms' state only (266,240 parameters)


def test_no_8bit_optimizer_recommended_over_a_paged_one() -> None:
    """adamw_8bit would put a paged optimizer's state back into the GPU total."""
    dims = from_table("meta-llama/Llama-3.1-8B-Instruct")
    assert dims is not None
    full = Setup(method="full", micro_batch=1, sequence_len=1024)
    changes = [r.change for r in recommend(dims, full, 24 * GB)]
    assert "optimizer: adamw_8bit" in changes
    paged = [r.change for r in recommend(dims, full.but(optimizer="paged_adamw_32bit"), 24 * GB)]
    assert not any("optimizer: adamw_8bit" in c for c in paged) and paged


def test_cli_plan_table_and_throughput_override(workdir: Path) -> None:
    res = run_cli("plan", "examples/sql.yaml", "--throughput", "1000")
    assert res.code == 0, res.err
    assert "smollm2-135m" in res.out and "verdict: fits in 24 GB per GPU" in res.out
    assert "at 1,000 tokens/s per GPU (given on the command line)" in res.out


def test_cli_plan_unknown_model(workdir: Path) -> None:
    write_spec(workdir, "acme/secret-model")
    res = run_cli("plan", "big.yaml")
    assert res.code == 1 and "cannot size base model 'acme/secret-model'" in res.err


def test_validate_warns_when_it_will_not_fit(workdir: Path) -> None:
    write_spec(workdir, "meta-llama/Llama-3.1-8B-Instruct", "method: full\ncompute: {target: a10g-24gb}\n")
    res = run_cli("validate", "big.yaml")
    assert res.code == 0  # a warning, not an error
    assert (
        "warning: compute.target: the plan estimates 66.6 GB per GPU, more than the 24 GB of a10g-24gb: it will not fit"
        in res.out
    )
    assert "method: lora instead of a full fine-tune -> 19.3 GB" in res.out
    ok = run_cli("validate", "examples/sql.yaml")
    assert ok.code == 0 and "warning" not in ok.out


def test_validate_target_warns_for_the_target_asked_for(workdir: Path) -> None:
    write_spec(workdir, "meta-llama/Llama-3.1-8B-Instruct", "compute: {target: a100-80gb}\n")
    assert "warning" not in run_cli("validate", "big.yaml").out
    res = run_cli("validate", "big.yaml", "--target", "t4-16gb")
    assert res.code == 0
    assert (
        "warning: compute.target: the plan estimates 19.3 GB per GPU, more than the 16 GB of t4-16gb: it will not fit"
        in res.out
    )
    assert "method: qlora (4-bit base) instead of lora -> 9.2 GB" in res.out
    assert "warning" not in run_cli("validate", "big.yaml", "--target", "h100-80gb:2").out


def test_moe_and_vision_recommendations_speak_of_their_own_terms() -> None:
    moe = from_table("Qwen/Qwen3-30B-A3B")
    assert moe is not None
    qlora = Setup(method="qlora", bits=4, micro_batch=1, sequence_len=1024, optimizer="paged_adamw_8bit")
    first = recommend(moe, qlora, 24 * GB)[0]
    assert first.change == (
        "axolotl: {quantize_moe_experts: true} with lora.target listing the attention projections "
        "(the routed experts load in 4/8-bit too)"
    )
    assert first.fits and first.estimate.components["weights"] < 0.4 * estimate(moe, qlora).components["weights"]
    vlm = from_table("Qwen/Qwen2.5-VL-7B-Instruct")
    assert vlm is not None
    recs = recommend(vlm, Setup(micro_batch=8, sequence_len=4096, images=4), 24 * GB)
    assert recs[0].change.startswith(
        "axolotl: {lora_target_linear: false, lora_target_modules: 'model.language_model.layers"
    )
    assert "(LoRA on the language model only: the vision tower stays frozen)" in recs[0].change
    assert recs[1].change == "at most 2 image(s) per sample (smaller or fewer images)"
    assert (
        recs[0].estimate.components["vision"]
        < estimate(vlm, Setup(micro_batch=8, sequence_len=4096, images=4)).components["vision"]
    )
