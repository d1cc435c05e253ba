"""Model shapes for the plan: config.json of MoE and vision models (tests/data/configs, each with
its source), parameter counts against the published ones, the Hugging Face cache, and the Hub
itself through huggingface_hub against the local hub server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli
from hub_server import Hub

from axowrap.errors import AxowrapError
from axowrap.plan.families import from_folder, from_table, model_dims
from axowrap.plan.modelconfig import CONFIG_DEFAULTS, dims_from_config

CONFIGS = Path(__file__).parent / "data" / "configs"

# (total, active per token) in billions, as each model card publishes them.
PUBLISHED = {
    "Qwen__Qwen3-30B-A3B": (30.5, 3.3),
    "openai__gpt-oss-20b": (21.0, 3.6),
    "deepseek-ai__DeepSeek-V2-Lite": (15.7, 2.4),
    "Qwen__Qwen1.5-MoE-A2.7B": (14.3, 2.7),
    "llava-hf__llava-1.5-7b-hf": (7.06, None),
    "meta-llama__Llama-3.2-11B-Vision-Instruct": (10.6, None),
    "Qwen__Qwen2.5-VL-7B-Instruct": (8.29, None),
    "Qwen__Qwen2-VL-7B-Instruct": (8.29, None),
}


@pytest.mark.parametrize("folder", PUBLISHED)
def test_config_json_gives_published_counts(folder: str) -> None:
    """Totals within 2%. Active counts within 20%: publishers count differently (OpenAI's 3.6B
    for gpt-oss leaves out the input embeddings; the plan counts every parameter a token meets)."""
    total, active = PUBLISHED[folder]
    dims = from_folder(CONFIGS / folder)
    assert dims.params / 1e9 == pytest.approx(total, rel=0.02)
    if active:
        assert dims.is_moe and dims.active_params / 1e9 == pytest.approx(active, rel=0.20)


def test_moe_counts_by_hand() -> None:
    """Qwen3-30B-A3B: 48 layers of attention (q 2048x4096, k and v 2048x512, o 4096x2048) and
    128 experts of 3 x 2048 x 768 with a 2048 x 128 router; embeddings and head 151936 x 2048."""
    dims = from_folder(CONFIGS / "Qwen__Qwen3-30B-A3B")
    attn = 2048 * 4096 * 2 + 2048 * 512 * 2
    expert = 3 * 2048 * 768
    norms = 48 * 2 * 2048 + 2048
    assert (dims.experts, dims.experts_per_token, dims.moe_layers) == (128, 8, 48)
    assert dims.params == 48 * (attn + 128 * expert + 2048 * 128) + 2 * 151936 * 2048 + norms
    assert dims.active_params == dims.params - 48 * (128 - 8) * expert
    # DeepSeek-V2-Lite: the first layer dense, MLA projections, 2 shared experts of 1408
    ds = from_folder(CONFIGS / "deepseek-ai__DeepSeek-V2-Lite")
    assert (ds.moe_layers, ds.dense_layers, ds.shared_intermediate) == (26, 1, 2816)
    assert ds.attention_shapes() == {
        "q_proj": (2048, 16 * 192),
        "kv_a_proj_with_mqa": (2048, 512 + 64),
        "kv_b_proj": (512, 16 * (128 + 128)),
        "o_proj": (16 * 128, 2048),
    }
    # routed experts are 3D parameters in transformers 5: LoRA's linear layers are attention + shared
    assert set(ds.linear_shapes()) == {
        "q_proj",
        "kv_a_proj_with_mqa",
        "kv_b_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert set(dims.linear_shapes()) == {"q_proj", "k_proj", "v_proj", "o_proj"}


def test_vision_towers_and_image_tokens() -> None:
    llava = from_folder(CONFIGS / "llava-hf__llava-1.5-7b-hf")
    assert llava.vision is not None and llava.hidden == 4096  # LlamaConfig's defaults fill the text config
    # CLIP ViT-L/14 at 336 px: 24 x 24 patches (+ a class token in the tower)
    assert (llava.vision.tokens_per_image, llava.vision.text_tokens_per_image) == (577, 576)
    assert llava.vision.params == 24 * (4 * 1024**2 + 2 * 1024 * 4096) + 3 * 14 * 14 * 1024 + 1024 * 4096 + 4096**2
    mllama = from_folder(CONFIGS / "meta-llama__Llama-3.2-11B-Vision-Instruct")
    assert mllama.vision is not None and mllama.cross_attention_layers == 8
    # 4 tiles of (560/14)^2 patches + a class token each, read through cross-attention (1 text token)
    assert (mllama.vision.tokens_per_image, mllama.vision.text_tokens_per_image) == (4 * 1601, 1)
    qwen = from_folder(CONFIGS / "Qwen__Qwen2.5-VL-7B-Instruct")
    assert qwen.vision is not None and qwen.vision.gated and qwen.vision.hidden == 1280
    # max_pixels 1003520 / 14x14 patches = 5120 patches, merged 2x2 = 1280 tokens in the text
    assert (qwen.vision.tokens_per_image, qwen.vision.text_tokens_per_image) == (5120, 1280)
    qwen2 = from_folder(CONFIGS / "Qwen__Qwen2-VL-7B-Instruct")
    assert qwen2.vision is not None and qwen2.vision.hidden == 1280 and qwen2.vision.intermediate == 5120


def test_built_in_table_knows_moe_and_vision_families() -> None:
    for model, folder in (
        ("Qwen/Qwen3-30B-A3B", "Qwen__Qwen3-30B-A3B"),
        ("openai/gpt-oss-20b", "openai__gpt-oss-20b"),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "meta-llama__Llama-3.2-11B-Vision-Instruct"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen__Qwen2.5-VL-7B-Instruct"),
    ):
        table = from_table(model)
        assert table is not None, model
        assert table.params == from_folder(CONFIGS / folder).params, model
    mixtral = from_table("mistralai/Mixtral-8x7B-Instruct-v0.1")
    assert mixtral is not None and mixtral.params / 1e9 == pytest.approx(46.7, rel=0.01)
    assert mixtral.active_params / 1e9 == pytest.approx(12.9, rel=0.01)


def test_unusable_config_is_a_clear_error() -> None:
    with pytest.raises(AxowrapError, match=r"x/config.json: the model config has no hidden_size, vocab_size"):
        dims_from_config(
            {"model_type": "bert", "num_hidden_layers": 2, "intermediate_size": 8, "num_attention_heads": 2},
            name="x",
            source="x/config.json",
        )


@pytest.mark.axolotl
def test_config_defaults_are_transformers_own() -> None:
    """The keys a config.json may omit, and the Qwen2-VL tower in tests/data, are the installed
    transformers' defaults (never retyped)."""
    from transformers import LlamaConfig
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig

    llama = LlamaConfig()
    for key, value in CONFIG_DEFAULTS["llama"].items():
        assert getattr(llama, key) == value, key
    vision = Qwen2VLVisionConfig()
    cfg = json.loads((CONFIGS / "Qwen__Qwen2-VL-7B-Instruct" / "config.json").read_text())["vision_config"]
    for key in ("depth", "embed_dim", "hidden_size", "mlp_ratio", "num_heads", "patch_size", "spatial_merge_size"):
        assert getattr(vision, key) == cfg[key], key


def _moe_spec(folder: Path, extra: str = "") -> Path:
    spec = folder / "moe.yaml"
    spec.write_text(
        "task: sql\nbase_model: Qwen/Qwen3-30B-A3B\ndatasets: [{path: examples/data/sql.jsonl}]\n"
        f"compute: {{target: h100-80gb}}\n{extra}",
        encoding="utf-8",
    )
    return spec


@pytest.fixture
def online(hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Hub:
    """The local Hub as HF_ENDPOINT, HF_HUB_OFFLINE unset, an empty cache of our own."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    return hub


def test_plan_reads_config_json_from_the_hub_then_the_cache(online: Hub, workdir: Path, monkeypatch) -> None:
    config = (CONFIGS / "Qwen__Qwen3-30B-A3B" / "config.json").read_bytes()
    index = json.dumps({"metadata": {"total_size": 61_066_575_872}, "weight_map": {}}).encode()
    commit = online.seed("Qwen/Qwen3-30B-A3B", {"config.json": config, "model.safetensors.index.json": index})
    _moe_spec(workdir)
    res = run_cli("plan", "moe.yaml", "--no-data", "--json")
    assert res.code == 0, res.err
    model = json.loads(res.out)["plans"][0]["model"]
    assert model["source"] == f"the Hub: Qwen/Qwen3-30B-A3B@{commit[:12]}" and model["revision"] == commit
    assert model["params"] == 61_066_575_872 // 2 and model["exact_params"] is True  # bf16: 2 bytes each
    assert model["experts"] == 128 and model["model_type"] == "qwen3_moe"
    snapshot = workdir / "cache" / "models--Qwen--Qwen3-30B-A3B" / "snapshots" / commit
    assert (snapshot / "config.json").read_bytes() == config  # huggingface_hub's own cache layout
    assert [p for _, p in online.requests if "/resolve/" in p] == [
        "/Qwen/Qwen3-30B-A3B/resolve/main/config.json",
        "/Qwen/Qwen3-30B-A3B/resolve/main/config.json",
        f"/Qwen/Qwen3-30B-A3B/resolve/{commit}/model.safetensors.index.json",
        f"/Qwen/Qwen3-30B-A3B/resolve/{commit}/model.safetensors.index.json",
    ]  # HEAD then GET of each
    seen = len(online.requests)
    again = run_cli("plan", "moe.yaml", "--no-data", "--json")
    assert (
        json.loads(again.out)["plans"][0]["model"]["source"] == f"Hugging Face cache: Qwen/Qwen3-30B-A3B@{commit[:12]}"
    )
    assert len(online.requests) == seen  # the cache answered: no request
    # offline, the cache still answers
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert run_cli("plan", "moe.yaml", "--no-data").code == 0


def test_validate_never_downloads_and_plan_falls_back_to_the_table(online: Hub, workdir: Path) -> None:
    online.seed("Qwen/Qwen3-30B-A3B", {"config.json": (CONFIGS / "Qwen__Qwen3-30B-A3B" / "config.json").read_bytes()})
    _moe_spec(workdir)
    assert run_cli("validate", "moe.yaml").code == 0
    assert online.requests == []
    online.repos["Qwen/Qwen3-30B-A3B"].gated = True
    res = run_cli("plan", "moe.yaml", "--no-data", "--json")
    assert res.code == 0, res.err
    plan = json.loads(res.out)["plans"][0]
    assert plan["model"]["source"] == "built-in table"
    assert (
        "model shape from the built-in table: the Hub says the model is gated (accept its license on the Hub and set HF_TOKEN)"
        in plan["notes"]
    )


def test_a_model_the_hub_does_not_have_is_an_error(online: Hub, workdir: Path) -> None:
    _moe_spec(workdir).write_text(
        "task: sql\nbase_model: acme/Qwen3-30B-A3B-typo\ndatasets: [{path: examples/data/sql.jsonl}]\n",
        encoding="utf-8",
    )
    res = run_cli("plan", "moe.yaml", "--no-data")
    assert res.code == 1
    assert "error: the Hub has no model 'acme/Qwen3-30B-A3B-typo' (or it is private)" in res.err


def test_offline_without_cache_names_the_reason(workdir: Path) -> None:
    _moe_spec(workdir).write_text(
        "task: sql\nbase_model: acme/secret\ndatasets: [{path: examples/data/sql.jsonl}]\n", encoding="utf-8"
    )
    res = run_cli("plan", "moe.yaml", "--no-data")
    assert res.code == 1
    assert (
        "error: cannot size base model 'acme/secret': HF_HUB_OFFLINE is set and the Hugging Face cache has no "
        "config.json for it, and it is not a family in the built-in table" in res.err
    )


def test_a_local_vision_model_folder(tmp_path: Path) -> None:
    shutil.copytree(CONFIGS / "Qwen__Qwen2.5-VL-7B-Instruct", tmp_path / "m")
    dims = model_dims("./m", tmp_path / "m")
    assert dims.vision is not None and dims.source == str(tmp_path / "m" / "config.json")


@pytest.mark.parametrize(
    "model,target",
    [
        ("Qwen/Qwen3-30B-A3B", "rtx5090-32gb"),
        ("meta-llama/Llama-3.2-11B-Vision-Instruct", "l40s-48gb"),
        ("openai/gpt-oss-20b", "a6000-48gb"),
    ],
)
def test_models_and_gpus_the_issue_names_plan_offline(workdir: Path, model: str, target: str) -> None:
    """These failed with "cannot size base model" / "unknown target" before: now the built-in
    table knows them offline (HF_HUB_OFFLINE is set for every test)."""
    write_spec = workdir / "m.yaml"
    write_spec.write_text(
        f"task: sql\nbase_model: {model}\ndatasets: [{{path: examples/data/sql.jsonl}}]\n", encoding="utf-8"
    )
    res = run_cli("plan", "m.yaml", "--no-data", "--target", target, "--images", "2")
    assert res.code in (0, 1) and "cannot size" not in res.err and "unknown target" not in res.err, res.err
    assert f"on {target} x1" in res.out and "time: unknown without data (--no-data)" in res.out
    assert "note: model shape from the built-in table: HF_HUB_OFFLINE is set" in res.out
