"""A model's shape, as the estimator needs it: the decoder (dense or mixture-of-experts, with
standard or multi-head latent attention), the vision tower if any, and the parameter counts
these imply. `modelconfig.py` reads one from a config.json."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vision:
    """A vision tower (ViT): its size, and how many tokens one image becomes."""

    hidden: int
    layers: int
    intermediate: int
    params: int  # tower + projector into the language model
    tokens_per_image: int  # the tower's sequence for one image (all tiles)
    text_tokens_per_image: int  # positions one image takes in the language model's sequence
    source: str = ""  # how tokens_per_image was found
    gated: bool = False  # gate/up/down MLP (three matrices) instead of fc1/fc2


@dataclass(frozen=True)
class Dims:
    """The numbers the estimator needs; `name` and `source` say where they came from."""

    name: str
    hidden: int
    layers: int
    intermediate: int  # MLP width of dense layers
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    head_dim: int | None = None
    source: str = "built-in table"
    model_type: str | None = None
    # mixture of experts: routed experts, chosen per token, each expert's width, the always-on
    # shared experts' total width, and how many layers are MoE (the rest are dense)
    experts: int = 0
    experts_per_token: int = 0
    expert_intermediate: int = 0
    shared_intermediate: int = 0
    moe_layers: int = 0
    # multi-head latent attention (DeepSeek-V2/V3): low-rank q/kv projections
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_dim: int = 0
    qk_rope_dim: int = 0
    v_head_dim: int = 0
    cross_attention_layers: int = 0  # mllama: layers that attend to the image (among `layers`)
    vision: Vision | None = None
    exact_params: int | None = None  # from the safetensors index, when known
    revision: str | None = None  # the Hub commit config.json was read at
    notes: tuple[str, ...] = field(default=())

    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def q_dim(self) -> int:
        return self.heads * (self.qk_nope_dim + self.qk_rope_dim if self.mla else self.hd)

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values) per token, all KV heads together."""
        return self.heads * self.v_head_dim if self.mla else self.kv_heads * self.hd

    @property
    def attn_out_dim(self) -> int:
        return self.heads * self.v_head_dim if self.mla else self.q_dim

    def attention_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each attention projection of one layer, by Hugging Face module name."""
        h = self.hidden
        if not self.mla:
            return {
                "q_proj": (h, self.q_dim),
                "k_proj": (h, self.kv_dim),
                "v_proj": (h, self.kv_dim),
                "o_proj": (self.q_dim, h),
            }
        assert self.kv_lora_rank is not None
        out: dict[str, tuple[int, int]] = {}
        if self.q_lora_rank:
            out["q_a_proj"] = (h, self.q_lora_rank)
            out["q_b_proj"] = (self.q_lora_rank, self.q_dim)
        else:
            out["q_proj"] = (h, self.q_dim)
        out["kv_a_proj_with_mqa"] = (h, self.kv_lora_rank + self.qk_rope_dim)
        out["kv_b_proj"] = (self.kv_lora_rank, self.heads * (self.qk_nope_dim + self.v_head_dim))
        out["o_proj"] = (self.attn_out_dim, h)
        return out

    def mlp_shapes(self, width: int | None = None) -> dict[str, tuple[int, int]]:
        """(in, out) of a gated MLP's projections (width: the intermediate size)."""
        h, i = self.hidden, self.intermediate if width is None else width
        return {"gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """The nn.Linear layers LoRA can target in one decoder layer (dense MLP, or the MoE
        layer's shared expert: routed experts are 3D parameters in transformers 5, not Linear)."""
        mlp = self.mlp_shapes(self.shared_intermediate) if self.is_moe and self.shared_intermediate else {}
        if not self.is_moe:
            mlp = self.mlp_shapes()
        return {**self.attention_shapes(), **mlp}

    @property
    def expert_params(self) -> int:
        """One routed expert: gate and up (h -> i) and down (i -> h)."""
        return 3 * self.hidden * self.expert_intermediate

    @property
    def dense_layers(self) -> int:
        return self.layers - self.moe_layers

    def _layer_params(self, experts: int) -> int:
        attn = sum(a * b for a, b in self.attention_shapes().values())
        dense = self.dense_layers * (attn + 3 * self.hidden * self.intermediate)
        moe_mlp = experts * self.expert_params + self.hidden * self.experts  # experts + router
        if self.shared_intermediate:
            moe_mlp += 3 * self.hidden * self.shared_intermediate
        return dense + self.moe_layers * (attn + moe_mlp)

    @property
    def layer_linear_params(self) -> int:
        """Linear weights of the decoder layers, all experts included (what 4-bit loading hits
        when experts are quantized too)."""
        return self._layer_params(self.experts)

    @property
    def routed_expert_params(self) -> int:
        return self.moe_layers * self.experts * self.expert_params

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus the output head (one matrix when tied)."""
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def norm_params(self) -> int:
        return self.layers * 2 * self.hidden + self.hidden

    @property
    def text_params(self) -> int:
        return self.layer_linear_params + self.embedding_params + self.norm_params

    @property
    def params(self) -> int:
        """Every parameter in memory: all experts, the vision tower (the safetensors count
        when known)."""
        if self.exact_params:
            return self.exact_params
        return self.text_params + (self.vision.params if self.vision else 0)

    @property
    def active_params(self) -> int:
        """Parameters one token goes through (MoE: only its experts; the vision tower aside)."""
        unused = self.moe_layers * (self.experts - self.experts_per_token) * self.expert_params
        return self.text_params - unused
