"""Dims from a Hugging Face config.json (and, for vision models, the processor's
preprocessor_config.json), without importing transformers.

Understood: dense decoders; mixtures of experts (Mixtral/gpt-oss `num_local_experts`, Qwen
`num_experts` with `moe_intermediate_size` and shared experts, DeepSeek `n_routed_experts`
with `first_k_dense_replace`); DeepSeek's multi-head latent attention; vision-language models
(`text_config` + `vision_config`: LLaVA, Mllama, Qwen2-VL and other ViT towers).
"""

from __future__ import annotations

from typing import Any

from axowrap.errors import AxowrapError
from axowrap.plan.dims import Dims, Vision

# Keys a config.json may leave out because its transformers config class has a default
# (llava-1.5's text_config names only the vocab). Compared with transformers' own classes in
# tests/test_plan_models.py.
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "vocab_size": 32000,
        "tie_word_embeddings": False,
    },
}
REQUIRED = ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads", "vocab_size")


def _int(cfg: dict[str, Any], *keys: str, default: int = 0) -> int:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return default


def _moe(cfg: dict[str, Any], layers: int) -> dict[str, int]:
    experts = _int(cfg, "num_local_experts", "num_experts", "n_routed_experts")
    if experts <= 1:
        return {}
    per_token = _int(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk", default=2)
    width = _int(cfg, "moe_intermediate_size", "expert_intermediate_size", "intermediate_size")
    shared = _int(cfg, "shared_expert_intermediate_size")
    if not shared and _int(cfg, "n_shared_experts"):
        shared = _int(cfg, "n_shared_experts") * width
    moe_layers = layers
    if "first_k_dense_replace" in cfg:  # DeepSeek: the first k layers are dense, then every moe_layer_freq-th
        first = _int(cfg, "first_k_dense_replace")
        freq = max(1, _int(cfg, "moe_layer_freq", default=1))
        moe_layers = sum(1 for i in range(first, layers) if i % freq == 0)
    elif "decoder_sparse_step" in cfg or cfg.get("mlp_only_layers"):  # Qwen MoE
        step = max(1, _int(cfg, "decoder_sparse_step", default=1))
        dense = set(cfg.get("mlp_only_layers") or [])
        moe_layers = sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0)
    return {
        "experts": experts,
        "experts_per_token": per_token,
        "expert_intermediate": width,
        "shared_intermediate": shared,
        "moe_layers": moe_layers,
    }


def _mla(cfg: dict[str, Any]) -> dict[str, Any]:
    if not cfg.get("kv_lora_rank"):
        return {}
    return {
        "q_lora_rank": cfg.get("q_lora_rank") or None,
        "kv_lora_rank": int(cfg["kv_lora_rank"]),
        "qk_nope_dim": _int(cfg, "qk_nope_head_dim"),
        "qk_rope_dim": _int(cfg, "qk_rope_head_dim"),
        "v_head_dim": _int(cfg, "v_head_dim"),
    }


def image_tokens(vision_cfg: dict[str, Any], processor: dict[str, Any] | None) -> tuple[int, int, str]:
    """(tower tokens per image, language-model tokens per image, how they were found)."""
    proc = processor or {}
    kind = str(proc.get("image_processor_type") or "")
    patch = _int(vision_cfg, "patch_size", default=14)
    if "max_pixels" in proc or "Qwen2VL" in kind:  # Qwen2-VL: patches, merged 2x2 into tokens
        pixels = _int(proc, "max_pixels", default=_int(proc.get("size") or {}, "longest_edge"))
        merge = _int(proc, "merge_size", default=_int(vision_cfg, "spatial_merge_size", default=2))
        patch = _int(proc, "patch_size", default=patch)
        tower = pixels // (patch * patch)
        return tower, tower // (merge * merge), f"{kind or 'processor'}: max_pixels {pixels} / {patch}x{patch} patches"
    size = proc.get("crop_size") or proc.get("size") or {}
    side = _int(size, "height", "shortest_edge") if isinstance(size, dict) else int(size)
    side = side or _int(vision_cfg, "image_size", default=224)
    per_tile = (side // patch) ** 2
    tiles = _int(proc, "max_image_tiles", default=_int(vision_cfg, "max_num_tiles", default=1))
    if tiles > 1:  # Mllama: tiles of (side/patch)^2 patches + a class token, read by cross-attention
        return tiles * (per_tile + 1), 1, f"{kind or 'processor'}: {tiles} tiles of {side}px / {patch}px patches"
    source = f"{kind}: {side}px / {patch}px patches" if kind else f"vision_config: {side}px / {patch}px patches"
    return per_tile + 1, per_tile, source


def _vision(cfg: dict[str, Any], text_hidden: int, processor: dict[str, Any] | None) -> Vision | None:
    v = cfg.get("vision_config")
    if not isinstance(v, dict):
        return None
    # Qwen2-VL names the tower's width embed_dim (its hidden_size is the merger's output)
    hidden = _int(v, "embed_dim", "hidden_size", "width")
    layers = _int(v, "num_hidden_layers", "depth", "layers") + _int(v, "num_global_layers")
    inter = _int(v, "intermediate_size") or int(hidden * float(v.get("mlp_ratio", 4)))
    if not hidden or not layers:
        return None
    gated = str(v.get("hidden_act", "")) in ("silu", "swish")  # gate/up/down instead of fc1/fc2
    patch = _int(v, "patch_size", default=14)
    channels = _int(v, "num_channels", "in_channels", "in_chans", default=3)
    temporal = _int(v, "temporal_patch_size", default=1)
    tower, text, source = image_tokens(v, processor)
    per_layer = 4 * hidden * hidden + (3 if gated else 2) * hidden * inter
    merge = _int(v, "spatial_merge_size")
    if merge:  # Qwen-VL merger: 2x2 patches concatenated, then a two-layer MLP into the LM
        dim = hidden * merge * merge
        out = _int(v, "out_hidden_size") or (_int(v, "hidden_size") if "embed_dim" in v else 0) or text_hidden
        projector = dim * dim + dim * out
    elif _int(v, "vision_output_dim"):  # Mllama: intermediate layers' outputs concatenated, projected
        projector = _int(v, "vision_output_dim") * text_hidden
    else:  # LLaVA: a two-layer MLP into the language model
        projector = hidden * text_hidden + text_hidden * text_hidden
    params = layers * per_layer + channels * temporal * patch * patch * hidden + projector
    return Vision(hidden, layers, inter, params, tower, text, source, gated)


def dims_from_config(cfg: dict[str, Any], *, name: str, source: str, processor: dict[str, Any] | None = None) -> Dims:
    """Dims from a parsed config.json; an AxowrapError naming what is missing."""
    top = cfg
    nested = cfg.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else cfg
    model_type = str(top.get("model_type") or text.get("model_type") or "") or None
    defaults = CONFIG_DEFAULTS.get(str(text.get("model_type") or ""), {})
    text = {**defaults, **text}
    missing = [k for k in REQUIRED if k not in text and not (k == "intermediate_size" and _moe(text, 1))]
    if missing:
        raise AxowrapError(
            f"{source}: the model config has no {', '.join(missing)}",
            hint="the plan needs hidden_size, num_hidden_layers, intermediate_size, num_attention_heads, vocab_size",
        )
    try:
        heads = int(text["num_attention_heads"])
        layers = int(text["num_hidden_layers"])
        hidden = int(text["hidden_size"])
        cross = text.get("cross_attention_layers")
        return Dims(
            name=name,
            hidden=hidden,
            layers=layers,
            intermediate=_int(text, "intermediate_size"),
            heads=heads,
            kv_heads=int(text.get("num_key_value_heads") or heads),
            vocab=int(text["vocab_size"]),
            tied=bool(top.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
            head_dim=text.get("head_dim") or None,
            source=source,
            model_type=model_type,
            cross_attention_layers=len(cross) if isinstance(cross, list) else 0,
            vision=_vision(top, hidden, processor),
            **_moe(text, layers),  # type: ignore[arg-type]
            **_mla(text),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AxowrapError(
            f"{source}: the model config has no usable {exc}",
            hint="the plan needs hidden_size, num_hidden_layers, intermediate_size, num_attention_heads, vocab_size",
        ) from None
