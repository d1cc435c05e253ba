"""GGUF export: the types axowrap makes and how (convert directly, or quantize the f16 file).

Light on purpose: spec rules (preflight) import this at validate time.
"""

from __future__ import annotations

from axowrap.errors import AxowrapError

# Written directly by the converter (`--outtype`).
CONVERT_TYPES = ("f16", "bf16", "q8_0")
# Quantized from the f16 GGUF by llama.cpp (`llama_model_quantize`): llama_ftype values.
QUANTIZE_FTYPES = {
    "q4_0": 2,
    "q5_0": 8,
    "q2_k": 10,
    "q3_k_s": 11,
    "q3_k_m": 12,
    "q3_k_l": 13,
    "q4_k_s": 14,
    "q4_k_m": 15,
    "q5_k_s": 16,
    "q5_k_m": 17,
    "q6_k": 18,
}
SUPPORTED = (*CONVERT_TYPES, *QUANTIZE_FTYPES)
K_QUANTS = tuple(t for t in QUANTIZE_FTYPES if "_k" in t)
QK_K = 256  # k-quant super-block: a tensor row must be a multiple of this, else llama.cpp falls back


def check_type(name: str) -> str:
    """The canonical (lower-case) type name; AxowrapError listing the supported ones if unknown."""
    key = name.lower()
    if key not in SUPPORTED:
        raise AxowrapError(f"unknown GGUF type {name!r}", hint=f"supported: {', '.join(SUPPORTED)}")
    return key


def gguf_name(model_name: str, gguf_type: str) -> str:
    return f"{model_name}-{gguf_type}.gguf"
